#include "gcs/runc_runtime.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include "src/common/log.h"
#include "src/runtime/fd_stream.h"

namespace hcsshim::gcs {

using runtime::Task;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last error runc logged (its log is JSON lines: {"level","msg","time"}).
// The errors one runc command logged: its log lines from `offset` on at
// level error, fatal or panic, joined. runc's own last line is often generic
// ("read init-p: connection reset by peer"); the reason is an earlier line
// from runc init's nsexec, so all of them are kept (bounded).
std::string runcErrors(const std::string& logPath, std::streamoff offset) {
  std::ifstream in(logPath);
  if (offset > 0) in.seekg(offset);
  std::string line, why;
  while (std::getline(in, line)) {
    auto j = parseJson(line);
    if (!j.ok() || !j->is_object()) continue;
    std::string level = j->value("level", "");
    if (level != "error" && level != "fatal" && level != "panic") continue;
    std::string msg = j->value("msg", "");
    if (msg.empty() || why.find(msg) != std::string::npos) continue;
    if (!why.empty()) why += "; ";
    why += msg;
    if (why.size() > 2048) {
      why.resize(2048);
      break;
    }
  }
  return why;
}

std::streamoff fileSize(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// A listening socket for runc's --console-socket: runc connects and passes
// the pty master with SCM_RIGHTS before the create/exec command returns.
class ConsoleSocket {
 public:
  ~ConsoleSocket() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  Status listen(const std::string& path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) return InvalidArgumentError("console socket path too long: " + path);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return errnoStatus(errno, "socket", path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return errnoStatus(errno, "bind", path);
    path_ = path;
    if (::listen(fd_, 1) < 0) return errnoStatus(errno, "listen", path);
    return OkStatus();
  }
  // receive: the master runc sent (the connection is already queued).
  StatusOr<int> receive() {
    int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return errnoStatus(errno, "accept4 (runc did not send a console)", path_);
    char data[256];
    iovec iov{data, sizeof data};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    timeval tv{5, 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC);
    int err = errno;
    ::close(conn);
    if (n < 0) return errnoStatus(err, "recvmsg", path_);
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        return fd;
      }
    }
    return InternalError("runc's console message carried no descriptor");
  }

 private:
  int fd_ = -1;
  std::string path_;
};

class RuncProcess final : public ContainerProcess {
 public:
  RuncProcess(std::unique_ptr<runtime::Process> p, std::unique_ptr<runtime::Stream> in,
              std::unique_ptr<runtime::Stream> out, std::unique_ptr<runtime::Stream> err,
              std::unique_ptr<runtime::Stream> tty, int ttyControl)
      : p_(std::move(p)), stdio_{std::move(in), std::move(out), std::move(err), std::move(tty)}, ttyControl_(ttyControl) {}
  ~RuncProcess() override {
    if (ttyControl_ >= 0) ::close(ttyControl_);
  }
  int pid() const override { return p_->pid(); }
  Task<runtime::ExitStatus> wait() override { return p_->wait(); }
  std::optional<runtime::ExitStatus> exitStatus() const override { return p_->exitStatus(); }
  Status signal(int sig) override { return p_->signal(sig); }
  Status resize(uint16_t rows, uint16_t columns) override {
    if (ttyControl_ < 0) return FailedPreconditionError("process " + std::to_string(pid()) + " has no terminal");
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = columns;
    if (ioctl(ttyControl_, TIOCSWINSZ, &ws) < 0) return errnoStatus(errno, "ioctl(TIOCSWINSZ)");
    return OkStatus();
  }
  std::unique_ptr<runtime::Stream> takeStdio(int fd) override {
    if (fd < 0 || fd > 3) return nullptr;
    return std::move(stdio_[fd]);
  }

 private:
  std::unique_ptr<runtime::Process> p_;
  std::unique_ptr<runtime::Stream> stdio_[4];
  int ttyControl_;
};

}  // namespace

Status RuncRuntime::runcError(const std::string& op, const std::string& id, const Run& r) const {
  std::string why;
  auto b = bundles_.find(id);
  if (b != bundles_.end()) why = runcErrors(b->second + "/runc.log", r.logOffset);
  if (why.empty()) why = "runc exited with " + std::to_string(r.exit.exitCode);
  return Status::fromHResult(hresult::kFail, op, id, "runc " + op + ": " + why);
}

Task<StatusOr<RuncRuntime::Run>> RuncRuntime::runc(std::vector<std::string> args, std::string id,
                                                   std::optional<StdioSpec> stdio, bool capture) {
  std::vector<std::string> argv = {"runc", "--root", options_.root};
  auto b = bundles_.find(id);
  std::streamoff logOffset = 0;
  if (b != bundles_.end()) {
    argv.insert(argv.end(), {"--log", b->second + "/runc.log", "--log-format", "json"});
    logOffset = fileSize(b->second + "/runc.log");
  }
  argv.insert(argv.end(), args.begin(), args.end());
  runtime::ProcessSpec spec{.path = options_.runcPath, .args = argv};
  spec.killOnParentDeath = false;  // runc must not take a container down with it
  auto mode = [](bool want) { return want ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull; };
  if (stdio && !stdio->terminal) {
    spec.stdinMode = mode(stdio->in);
    spec.stdoutMode = mode(stdio->out);
    spec.stderrMode = mode(stdio->err);
  } else {
    spec.stdoutMode = mode(capture);
    spec.stderrMode = runtime::StdioMode::kNull;
  }
  HLOG(Debug, "runc.run").kv("container", id).kv("command", args.empty() ? "" : args[0]);
  auto p = runner_.spawn(spec);
  if (!p.ok()) co_return p.status().withContext("runc", id);
  Run r;
  r.logOffset = logOffset;
  if (capture) {
    auto out = co_await runtime::readToEnd(*(*p)->stdoutStream(), 16 << 20);
    if (out.ok()) r.out = std::move(*out);
  }
  r.exit = co_await (*p)->wait();
  r.process = std::move(*p);
  co_return r;
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> RuncRuntime::launch(std::string id, std::vector<std::string> args,
                                                                      std::string pidFile, StdioSpec stdio) {
  ConsoleSocket console;
  if (stdio.terminal) {
    std::string path = options_.root + "/console-" + std::to_string(++execSeq_) + ".sock";
    HCS_CO_RETURN_IF_ERROR(console.listen(path).withContext(args[0], id));
    args.insert(args.end() - 1, {"--console-socket", path});
  }
  auto run = co_await runc(args, id, stdio, false);
  if (!run.ok()) co_return run.status();
  if (run->exit.exitCode != 0) co_return runcError(args[0], id, *run);
  // Adopt before anything can suspend: the process is our child now and must
  // be tracked before the orphan reaper's next look.
  std::string pidText = readFile(pidFile);
  int pid = std::atoi(pidText.c_str());
  auto adopted = runner_.adopt(pid);
  if (!adopted.ok()) co_return adopted.status().withContext(args[0], id);
  std::unique_ptr<runtime::Stream> tty;
  int ttyControl = -1;
  if (stdio.terminal) {
    auto master = console.receive();
    if (!master.ok()) {
      (void)(*adopted)->signal(SIGKILL);
      co_return master.status().withContext(args[0], id);
    }
    ttyControl = fcntl(*master, F_DUPFD_CLOEXEC, 0);
    winsize ws{};
    ws.ws_row = stdio.rows;
    ws.ws_col = stdio.columns;
    ioctl(*master, TIOCSWINSZ, &ws);
    auto st = runtime::FdStream::create(loop_, *master, runtime::FdStream::Kind::kPtyMaster,
                                        id + ":" + std::to_string(pid) + ":tty");
    if (!st.ok()) {
      if (ttyControl >= 0) ::close(ttyControl);
      (void)(*adopted)->signal(SIGKILL);
      co_return st.status();
    }
    tty = std::move(*st);
  }
  auto& rp = run->process;
  co_return std::unique_ptr<ContainerProcess>(new RuncProcess(std::move(*adopted), rp->takeStdio(0), rp->takeStdio(1),
                                                              rp->takeStdio(2), std::move(tty), ttyControl));
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> RuncRuntime::create(std::string id, std::string bundle,
                                                                      StdioSpec stdio) {
  co_return co_await make(id, bundle, stdio, false);
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> RuncRuntime::run(std::string id, std::string bundle,
                                                                   StdioSpec stdio) {
  co_return co_await make(id, bundle, stdio, true);
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> RuncRuntime::make(std::string id, std::string bundle,
                                                                    StdioSpec stdio, bool startNow) {
  if (bundles_.count(id)) co_return AlreadyExistsError("runc container " + id + " exists");
  bundles_[id] = bundle;
  std::string pidFile = bundle + "/init.pid";
  std::vector<std::string> args;
  if (startNow) {
    args = {"run", "--detach", "--bundle", bundle, "--pid-file", pidFile};
  } else {
    args = {"create", "--bundle", bundle, "--pid-file", pidFile};
  }
  if (options_.noPivot) args.push_back("--no-pivot");
  args.push_back(id);
  auto p = co_await launch(id, args, pidFile, stdio);
  if (!p.ok()) {
    // Nothing half-made stays behind.
    std::vector<std::string> argv = {"delete", "--force", id};
    (void)co_await runc(argv, id, std::nullopt, false);
    bundles_.erase(id);
  }
  co_return p;
}

Task<Status> RuncRuntime::command(std::vector<std::string> args, std::string id) {
  auto r = co_await runc(args, id, std::nullopt, false);
  if (!r.ok()) co_return r.status();
  if (r->exit.exitCode != 0) co_return runcError(args[0], id, *r);
  co_return OkStatus();
}

Task<Status> RuncRuntime::start(std::string id) {
  std::vector<std::string> args = {"start", id};
  co_return co_await command(args, id);
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> RuncRuntime::exec(std::string id, Json ociProcess,
                                                                    StdioSpec stdio) {
  auto b = bundles_.find(id);
  if (b == bundles_.end()) co_return NotFoundError("runc container " + id + " does not exist");
  std::string bundle = b->second;
  uint64_t n = ++execSeq_;
  std::string processFile = bundle + "/exec-" + std::to_string(n) + ".json";
  std::string pidFile = bundle + "/exec-" + std::to_string(n) + ".pid";
  ociProcess["terminal"] = stdio.terminal;
  // runc sizes the pty before the process runs (an exec runs at once; setting
  // the size afterwards would race its first read of it).
  if (stdio.terminal) ociProcess["consoleSize"] = Json{{"height", stdio.rows}, {"width", stdio.columns}};
  {
    std::ofstream f(processFile);
    f << jsonText(ociProcess);
    if (!f) co_return errnoStatus(errno, "write", processFile);
  }
  std::vector<std::string> args = {"exec", "--process", processFile, "--pid-file", pidFile, "--detach", id};
  auto p = co_await launch(id, args, pidFile, stdio);
  ::unlink(processFile.c_str());
  ::unlink(pidFile.c_str());
  co_return p;
}

Task<Status> RuncRuntime::update(std::string id, Json resources) {
  auto b = bundles_.find(id);
  if (b == bundles_.end()) co_return NotFoundError("runc container " + id + " does not exist");
  std::string file = b->second + "/update-" + std::to_string(++execSeq_) + ".json";
  {
    std::ofstream f(file);
    f << jsonText(resources);
    if (!f) co_return errnoStatus(errno, "write", file);
  }
  std::vector<std::string> args = {"update", "--resources", file, id};
  Status st = co_await command(args, id);
  ::unlink(file.c_str());
  co_return st;
}

Task<Status> RuncRuntime::remove(std::string id, bool force) {
  std::vector<std::string> args = {"delete"};
  if (force) args.push_back("--force");
  args.push_back(id);
  HCS_CO_RETURN_IF_ERROR(co_await command(args, id));
  bundles_.erase(id);
  co_return OkStatus();
}

Task<StatusOr<std::vector<int>>> RuncRuntime::pids(std::string id) {
  std::vector<std::string> argv = {"ps", "--format", "json", id};

  auto r = co_await runc(argv, id, std::nullopt, true);
  if (!r.ok()) co_return r.status();
  if (r->exit.exitCode != 0) co_return runcError("ps", id, *r);
  auto j = parseJson(r->out);
  if (!j.ok() || !j->is_array()) co_return InternalError("runc ps: unexpected output: " + r->out.substr(0, 200));
  std::vector<int> pids;
  for (auto& v : *j) {
    if (v.is_number_integer()) pids.push_back(v.get<int>());
  }
  co_return pids;
}

}  // namespace hcsshim::gcs
