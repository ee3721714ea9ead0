#include "platforms/linux/fifo_stdio.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "src/common/log.h"
#include "src/runtime/fd_stream.h"
#include "src/runtime/unique_fd.h"

extern char** environ;

namespace hcsshim::platforms {

using runtime::Task;
using shim::BinaryLoggerOptions;
using shim::LoggerStreams;
using shim::isBinaryUri;
using shim::parseBinaryUri;

namespace {

// A regular file: epoll cannot watch it, and writes do not block for long.
class FileSink final : public runtime::Stream {
 public:
  FileSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~FileSink() override { close(); }
  Task<StatusOr<size_t>> read(std::span<char>) override { co_return UnimplementedError("file sink is write-only"); }
  Task<Status> write(std::string_view data) override {
    while (!data.empty()) {
      if (fd_ < 0) co_return CancelledError("closed");
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        co_return errnoStatus(errno, "write", name_);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    co_return OkStatus();
  }
  Status shutdownWrite() override { return OkStatus(); }
  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  StatusOr<runtime::PeerCredentials> peerCredentials() const override { return UnimplementedError("file"); }
  std::string describe() const override { return "file:" + name_; }

 private:
  int fd_;
  std::string name_;
};

// FifoReader: the read side of a client's stdin FIFO with the semantics of a
// blocking open - an empty read means EOF only once a writer has been there
// (it wrote, or it hung up: epoll reports HUP only for writers that came
// after our open). Before that, 0 just means "no writer yet".
class FifoReader final : public runtime::Stream {
 public:
  FifoReader(runtime::EpollEventLoop& loop, int fd, std::shared_ptr<runtime::FdWatch> watch, std::string name)
      : loop_(loop), fd_(fd), watch_(std::move(watch)), name_(std::move(name)) {}
  ~FifoReader() override { close(); }
  Task<StatusOr<size_t>> read(std::span<char> buf) override {
    std::shared_ptr<runtime::FdWatch> watch = watch_;
    for (;;) {
      if (fd_ < 0 || watch->closed()) co_return CancelledError("stdin closed");
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n > 0) {
        writerSeen_ = true;
        co_return static_cast<size_t>(n);
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) co_return errnoStatus(errno, "read", name_);
      if (n < 0) writerSeen_ = true;               // EAGAIN: a writer is there, no data yet
      if (n == 0 && (writerSeen_ || watch->hangup())) co_return size_t{0};
      co_await watch->readable();
    }
  }
  Task<Status> write(std::string_view) override { co_return UnimplementedError("stdin FIFO is read-only"); }
  Status shutdownWrite() override { return OkStatus(); }
  void close() override {
    if (fd_ < 0) return;
    loop_.unwatch(watch_);
    ::close(fd_);
    fd_ = -1;
  }
  StatusOr<runtime::PeerCredentials> peerCredentials() const override { return UnimplementedError("fifo"); }
  std::string describe() const override { return "fifo:" + name_; }

 private:
  runtime::EpollEventLoop& loop_;
  int fd_;
  std::shared_ptr<runtime::FdWatch> watch_;
  std::string name_;
  bool writerSeen_ = false;
};

struct PipeFds {
  int r = -1, w = -1;
  ~PipeFds() { closeBoth(); }
  void closeBoth() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
    r = w = -1;
  }
  int takeR() { return std::exchange(r, -1); }
  int takeW() { return std::exchange(w, -1); }
};

Task<Status> readUntilEof(std::shared_ptr<runtime::Stream> s) {
  char buf[64];
  for (;;) {
    auto n = co_await s->read(std::span<char>(buf, sizeof buf));
    if (!n.ok()) co_return n.status();
    if (*n == 0) co_return OkStatus();
  }
}

Task<void> reapLogger(std::unique_ptr<runtime::Process> p, std::string id) {
  runtime::ExitStatus st = co_await p->wait();
  HLOG(Debug, "shim.logger_exited").kv("task", id).kv("pid", p->pid()).kv("exit_code", st.exitCode);
}

std::string stripFifo(const std::string& uri) {
  if (uri.rfind("fifo://", 0) == 0) return uri.substr(7);
  return uri;
}

}  // namespace

Task<StatusOr<std::unique_ptr<runtime::Stream>>> FifoStdio::openOutput(std::string uri) {
  runtime::EpollEventLoop& loop = loop_;
  if (uri.empty()) co_return std::unique_ptr<runtime::Stream>();
  if (isBinaryUri(uri)) co_return InvalidArgumentError("stdio " + uri + ": a binary:// logger serves stdout and stderr together");
  if (uri.rfind("file://", 0) == 0) {
    std::string path = uri.substr(7);
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) co_return errnoStatus(errno, "open", path);
    co_return std::unique_ptr<runtime::Stream>(new FileSink(fd, path));
  }
  std::string path = stripFifo(uri);
  // A FIFO opens for writing only once its reader is there: retry for a while.
  for (int attempt = 0;; ++attempt) {
    int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      auto s = runtime::FdStream::create(loop, fd, runtime::FdStream::Kind::kPipeWrite, path);
      if (!s.ok()) co_return s.status();
      co_return std::unique_ptr<runtime::Stream>(std::move(*s));
    }
    if (errno != ENXIO || attempt >= 1000) co_return errnoStatus(errno, "open", path);
    co_await runtime::sleep(loop, std::chrono::milliseconds(10));
  }
}

Status FifoStdio::checkOutputUris(const std::string& stdoutUri, const std::string& stderrUri) {
  if (isBinaryUri(stderrUri) && stderrUri != stdoutUri) {
    return InvalidArgumentError("stdio: a binary:// stderr (" + stderrUri + ") needs the same binary:// stdout");
  }
  if (!isBinaryUri(stdoutUri)) return OkStatus();
  auto argv = parseBinaryUri(stdoutUri);
  if (!argv.ok()) return argv.status();
  if (::access((*argv)[0].c_str(), X_OK) != 0) {
    return InvalidArgumentError("stdio " + stdoutUri + ": logger " + (*argv)[0] + ": " + std::strerror(errno));
  }
  return OkStatus();
}

Task<StatusOr<LoggerStreams>> FifoStdio::startBinaryLogger(BinaryLoggerOptions o) {
  runtime::EpollEventLoop& loop = loop_;
  runtime::ProcessRunner& runner = runner_;
  auto argv = parseBinaryUri(o.uri);
  if (!argv.ok()) co_return argv.status();
  PipeFds out, err, ready;
  for (PipeFds* p : {&out, &err, &ready}) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) co_return errnoStatus(errno, "pipe2", o.uri);
    p->r = fds[0];
    p->w = fds[1];
  }
  runtime::ProcessSpec spec;
  spec.path = (*argv)[0];
  spec.args = *argv;
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  env["CONTAINER_ID"] = o.containerId;
  env["CONTAINER_NAMESPACE"] = o.ns;
  spec.env = std::move(env);
  spec.stdinMode = spec.stdoutMode = spec.stderrMode = runtime::StdioMode::kNull;
  spec.newSession = true;
  spec.extraFds = {out.r, err.r, ready.w};
  auto proc = runner.spawn(spec);
  if (!proc.ok()) co_return Status(proc.status().code(), "stdio " + o.uri + ": starting the logger: " + proc.status().message());
  // Only the logger holds these now: it sees EOF when we close our write ends.
  ::close(out.takeR());
  ::close(err.takeR());
  ::close(ready.takeW());
  auto readyStream = runtime::FdStream::create(loop, ready.takeR(), runtime::FdStream::Kind::kPipeRead, "logger-ready");
  if (!readyStream.ok()) co_return readyStream.status();
  std::shared_ptr<runtime::Stream> rs(std::move(*readyStream));
  Status st = co_await runtime::withTimeout(loop, readUntilEof(rs), o.readyTimeout, [] {
    return DeadlineExceededError("the logger did not close its ready pipe (fd 5)");
  });
  rs->close();
  if (!st.ok()) {
    (void)(*proc)->signal(SIGKILL);
    runtime::spawn(reapLogger(std::move(*proc), o.containerId));
    co_return Status(st.code(), "stdio " + o.uri + ": " + st.message());
  }
  HLOG(Info, "shim.logger_started").kv("task", o.containerId).kv("pid", (*proc)->pid()).kv("uri", o.uri);
  runtime::spawn(reapLogger(std::move(*proc), o.containerId));
  LoggerStreams streams;
  auto o1 = runtime::FdStream::create(loop, out.takeW(), runtime::FdStream::Kind::kPipeWrite, "logger-stdout");
  if (!o1.ok()) co_return o1.status();
  auto e1 = runtime::FdStream::create(loop, err.takeW(), runtime::FdStream::Kind::kPipeWrite, "logger-stderr");
  if (!e1.ok()) co_return e1.status();
  streams.out = std::move(*o1);
  streams.err = std::move(*e1);
  co_return streams;
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> FifoStdio::openInput(std::string uri) {
  runtime::EpollEventLoop& loop = loop_;
  if (uri.empty()) co_return std::unique_ptr<runtime::Stream>();
  std::string path = stripFifo(uri);
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) co_return errnoStatus(errno, "open", path);
  auto watch = loop.watchFd(fd);
  if (!watch.ok()) {
    ::close(fd);
    co_return watch.status();
  }
  co_return std::unique_ptr<runtime::Stream>(new FifoReader(loop, fd, *watch, path));
}

}  // namespace hcsshim::platforms
