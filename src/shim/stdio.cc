#include "src/shim/stdio.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "src/runtime/fd_stream.h"

namespace hcsshim::shim {

using runtime::Task;

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

std::string stripFifo(const std::string& uri) {
  if (uri.rfind("fifo://", 0) == 0) return uri.substr(7);
  return uri;
}

}  // namespace

Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(runtime::EpollEventLoop& loop, std::string uri) {
  if (uri.empty()) co_return std::unique_ptr<runtime::Stream>();
  if (uri.rfind("binary://", 0) == 0) {
    co_return UnimplementedError("stdio " + uri + ": binary:// logging drivers are not implemented");
  }
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

Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(runtime::EpollEventLoop& loop, std::string uri) {
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

Task<void> relay(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, bool closeTo) {
  (void)co_await runtime::copyStream(*from, *to);
  (void)to->shutdownWrite();
  if (closeTo) to->close();
}

}  // namespace hcsshim::shim
