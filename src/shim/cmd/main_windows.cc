// containerd-shim-runhcs-v1.exe: the shim on Windows - tasks in Linux
// utility VMs through the host's HCS (computecore.dll), HNS
// (computenetwork.dll) and Hyper-V sockets (platforms/windows).
//
//   containerd-shim-runhcs-v1.exe -namespace NS -address GRPC -publish-binary P -id ID [-debug] start
//   containerd-shim-runhcs-v1.exe -namespace NS -address GRPC -id ID -bundle DIR delete
//
// As hcsshim's shim does: `start` serves (or reuses) the group's named pipe
// \\.\pipe\ProtectedPrefix\Administrators\containerd-shim-<ns>-<group>-pipe,
// writes it to the bundle's `address` file and prints it; the long-lived
// `serve` process logs to \\.\pipe\containerd-shim-<ns>-<id>-log once
// containerd connects there (and always to its stderr); `delete` cleans up
// after a shim that died and prints a DeleteResponse. Boot files (unless
// the options name others): LinuxBootFiles next to the executable if it
// exists, else %ProgramFiles%\Linux Containers (hcsshim's default).
#include <fcntl.h>
#include <io.h>
#include <windows.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "platforms/windows/computecore_hcs.h"
#include "platforms/windows/shim_platform.h"
#include "platforms/windows/windows_runtime.h"
#include "src/common/log.h"
#include "src/common/utf16.h"
#include "src/containerd/api/task.pb.h"
#include "src/shim/lifecycle.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;

std::string pipeFor(const shim::ShimArgs& a, const std::string& group) {
  return "\\\\.\\pipe\\ProtectedPrefix\\Administrators\\containerd-shim-" + a.ns + "-" + group + "-pipe";
}

std::string self() {
  std::wstring path(32768, L'\0');
  DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  path.resize(n);
  return fs::path(path).string();
}

// defaultBootFiles: hcsshim's default - LinuxBootFiles next to the
// executable if it exists, else %ProgramFiles%\Linux Containers.
std::string defaultBootFiles() {
  std::error_code ec;
  fs::path local = fs::path(self()).parent_path() / "LinuxBootFiles";
  if (fs::exists(local, ec)) return local.string();
  const char* programFiles = std::getenv("ProgramFiles");
  return (fs::path(programFiles ? programFiles : "C:\\Program Files") / "Linux Containers").string();
}

// noHcs: what containerd shows when the host's HCS cannot be reached.
std::string noHcs(const Status& why) {
  return "the host's HCS cannot be reached (" + why.message() +
         "): enable the Containers and Hyper-V features (docs/hyperv.md)";
}

int start(const shim::ShimArgs& a) {
  // containerd reads start's stdout and stderr together as the address.
  log::setLevel(LogLevel::kOff);
  std::string bundle = a.bundle.empty() ? fs::current_path().string() : a.bundle;
  std::string address = pipeFor(a, shim::shimGroup(bundle, a.id));
  auto rt = platforms::windows::WindowsRuntime::create("shim-start");
  if (!rt.ok()) return 1;
  std::string exe = self();
  runtime::ProcessSpec spec = shim::serverSpec(a, exe, bundle, address);
  Status up = shim::ensureServer(**rt, address, spec, [&]() -> Status {
    platforms::windows::ComputeCoreHcs hcs((*rt)->loop());
    auto list = runtime::blockOn((*rt)->loop(), hcs.enumerateComputeSystems(""));
    return list.ok() ? OkStatus() : UnavailableError(noHcs(list.status()));
  });
  if (!up.ok()) {
    std::fprintf(stderr, "start: %s\n", up.message().c_str());
    return 1;
  }
  std::ofstream(fs::path(bundle) / "address", std::ios::binary) << address;
  std::fputs(address.c_str(), stdout);
  return 0;
}

int deleteTask(const shim::ShimArgs& a) {
  std::string bundle = a.bundle.empty() ? fs::current_path().string() : a.bundle;
  auto rt = platforms::windows::WindowsRuntime::create("shim-delete");
  if (!rt.ok()) return 1;
  bool ownGroup = shim::shimGroup(bundle, a.id) == a.id;  // a pod's VM goes with its sandbox
  platforms::windows::ComputeCoreHcs hcs((*rt)->loop());
  containerd::task::v2::DeleteResponse r =
      runtime::blockOn((*rt)->loop(), shim::cleanupAfterDeadShim(**rt, &hcs, a.id, ownGroup));
  runtime::drain((*rt)->loop());
  std::string out = r.SerializeAsString();
  _setmode(_fileno(stdout), _O_BINARY);  // the raw protobuf, no \n -> \r\n
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

// LogPipe: log lines to stderr and to whoever connects to the log pipe
// (containerd, again after it restarts); lines before the first connection
// are kept (up to kBacklog) and sent then, in order.
class LogPipe final : public LogSink, public std::enable_shared_from_this<LogPipe> {
 public:
  static constexpr size_t kBacklog = 4096;
  explicit LogPipe(runtime::EventLoop& loop) : loop_(loop) {}

  void write(LogLevel, std::string_view line) override {
    std::string text = std::string(line) + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() == kBacklog) queue_.pop_front();
    queue_.push_back(std::move(text));
    if (!posted_) {
      posted_ = true;
      loop_.post([self = shared_from_this()] { self->kick(); });
    }
  }

  // flushed: everything logged so far was written to the pipe (or there is
  // no reader, or `limit` passed: containerd may not be reading).
  Task<void> flushed(runtime::Duration limit) {
    auto until = loop_.now() + limit;
    while (loop_.now() < until) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!conn_ || (queue_.empty() && !draining_)) co_return;
      }
      co_await runtime::sleep(loop_, std::chrono::milliseconds(1));
    }
  }

  Task<void> serve(std::unique_ptr<runtime::Listener> listener) {
    for (;;) {
      auto accept_call = listener->accept();
      auto conn = co_await std::move(accept_call);
      if (!conn.ok()) co_return;
      if (conn_) conn_->close();
      conn_ = std::shared_ptr<runtime::Stream>(std::move(*conn));
      kick();
    }
  }

 private:
  void kick() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      posted_ = false;
    }
    if (conn_ && !draining_) {
      draining_ = true;
      runtime::spawn(drain(shared_from_this()));
    }
  }

  static Task<void> drain(std::shared_ptr<LogPipe> self) {
    for (;;) {
      std::string text;
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->queue_.empty() || !self->conn_) break;
        text = std::move(self->queue_.front());
        self->queue_.pop_front();
      }
      std::shared_ptr<runtime::Stream> conn = self->conn_;
      auto write_call = conn->write(text);
      if (!(co_await std::move(write_call)).ok() && self->conn_ == conn) self->conn_.reset();
    }
    self->draining_ = false;
  }

  runtime::EventLoop& loop_;
  std::mutex mu_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool posted_ = false;            // guarded by mu_
  std::shared_ptr<runtime::Stream> conn_;  // loop only
  bool draining_ = false;                  // loop only
};

int serve(const shim::ShimArgs& a, const std::string& bootFiles) {
  auto rt = platforms::windows::WindowsRuntime::create("shim");
  if (!rt.ok()) return 1;
  auto logPipe = std::make_shared<LogPipe>((*rt)->loop());
  std::string logAddress = "\\\\.\\pipe\\containerd-shim-" + a.ns + "-" + a.id + "-log";
  if (auto l = (*rt)->transport().listen(logAddress); l.ok()) {
    log::setSink(logPipe);
    runtime::spawn(logPipe->serve(std::move(*l)));
  } else {
    HLOG(Warn, "shim.log_pipe_failed").kv("pipe", logAddress).kv("error", l.status().toString());
  }
  platforms::windows::ComputeCoreHcs hcs((*rt)->loop());
  const char* ttrpcAddress = std::getenv("TTRPC_ADDRESS");
  shim::Publisher events(**rt, ttrpcAddress ? ttrpcAddress : "", a.ns);
  platforms::windows::WindowsShimPlatform platform(**rt);
  shim::TaskModel model(**rt, hcs, events, platform, shim::ShimConfig{.ns = a.ns, .defaultBootFiles = bootFiles});
  auto listener = (*rt)->transport().listen(a.socket);
  if (!listener.ok()) {
    HLOG(Error, "shim.listen_failed").kv("pipe", a.socket).kv("error", listener.status().toString());
    log::setSink(nullptr);
    return 1;
  }
  HLOG(Info, "shim.serving").kv("id", a.id).kv("pipe", a.socket).kv("namespace", a.ns)
      .kv("pid", static_cast<uint64_t>(GetCurrentProcessId())).kv("boot_files", bootFiles);
  bool stop = false;
  shim::serveTasks(**rt, model, events, std::move(*listener), stop);
  HLOG(Info, "shim.exiting").kv("id", a.id);
  runtime::blockOn((*rt)->loop(), logPipe->flushed(std::chrono::seconds(2)));
  log::setSink(nullptr);
  runtime::drain((*rt)->loop());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = shim::parseShimArgs(argc, argv);
  if (const int* exitStatus = std::get_if<int>(&parsed)) return *exitStatus;
  const shim::ShimArgs& a = std::get<shim::ShimArgs>(parsed);
  log::setLevel(a.debug ? LogLevel::kDebug : LogLevel::kInfo);
  if (a.verb == "start") return start(a);
  if (a.verb == "delete") return deleteTask(a);
  return serve(a, defaultBootFiles());
}
