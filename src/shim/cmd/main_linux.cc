// containerd-shim-runhcs-v1: the containerd runtime v2 shim for
// io.containerd.runhcs.v1 - tasks run in Linux utility VMs through HCS.
//
//   containerd-shim-runhcs-v1 -namespace NS -address GRPC -publish-binary P -id ID [-debug] start
//   containerd-shim-runhcs-v1 -namespace NS -address GRPC -id ID -bundle DIR delete
//
// `start` prints the task socket's address (starting the long-lived `serve`
// process, or reusing the group's) and writes it to the bundle's `address`
// file; `delete` cleans up after a shim that died and prints a
// DeleteResponse. This file is the shim's lifecycle and its platform
// (Linux: the HCS is the fake HCS daemon at $HCS_FAKE_ADDRESS, default
// unix:///tmp/hcs-fake-<uid>/hcs.sock); the tasks are src/shim/task_model.h.
//
// Boot files: the runtime options' BootFilesRootPath or the annotation
// io.microsoft.virtualmachine.lcow.bootfilesrootpath, else LinuxBootFiles
// next to this binary (hcsshim's default).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/rootfs_mounter.h"
#include "platforms/linux/shim_platform.h"
#include "src/common/log.h"
#include "src/common/sha256.h"
#include "src/containerd/api/task.pb.h"
#include "src/hcs/compute_system.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/signals.h"
#include "src/shim/lifecycle.h"
#include "src/shim/vm_options.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;

using Flags = shim::ShimArgs;

std::string socketFor(const Flags& f, const std::string& group) {
  return "/run/containerd/s/" + sha256Hex(f.address + "/" + f.ns + "/" + group);
}

// noHcs: what containerd shows when there is no HCS to talk to.
std::string noHcs(const std::string& address, const Status& why) {
  return "no HCS at " + address + " (" + why.message() +
         "): start the fake HCS with `hcs_fake --detach` (or set HCS_FAKE_ADDRESS to where it serves)";
}

int start(const Flags& f, const char* argv0) {
  // containerd reads `start`'s stdout and stderr together (CombinedOutput)
  // as the address: nothing but the address may be printed on success, not
  // even -debug events.
  log::setLevel(LogLevel::kOff);
  std::error_code ec;
  std::string self = fs::absolute(argv0, ec).string();  // the server runs in the bundle
  std::string bundle = f.bundle.empty() ? fs::current_path().string() : f.bundle;
  std::string socket = socketFor(f, shim::shimGroup(bundle, f.id));
  std::string address = "unix://" + socket;
  auto rt = runtime::RealRuntime::create("shim-start");
  if (!rt.ok()) return 1;
  // Start the server (its own session, no handle on our stdout) unless the
  // group's answers; say up front when there is no HCS: it would only die of it.
  runtime::ProcessSpec spec = shim::serverSpec(f, self, bundle, socket);
  spec.newSession = true;
  Status up = shim::ensureServer(**rt, address, spec, [&]() -> Status {
    std::string hcsAddress = platforms::defaultHcsAddress();
    auto hcs = runtime::blockOn((*rt)->loop(), (*rt)->transport().connect(hcsAddress));
    if (!hcs.ok()) return UnavailableError(noHcs(hcsAddress, hcs.status()));
    (*hcs)->close();
    return OkStatus();
  });
  if (!up.ok()) {
    std::fprintf(stderr, "start: %s\n", up.message().c_str());
    return 1;
  }
  std::ofstream(bundle + "/address") << address;
  std::fputs(address.c_str(), stdout);
  return 0;
}

// deleteTask: containerd's cleanup after a dead shim - the task's VM goes,
// its rootfs is unmounted, and a DeleteResponse is printed.
int deleteTask(const Flags& f) {
  std::string bundle = f.bundle.empty() ? fs::current_path().string() : f.bundle;
  auto rt = runtime::RealRuntime::create("shim-delete");
  if (!rt.ok()) return 1;
  // A pod's containers run in the sandbox's VM: only the sandbox's own
  // cleanup takes the VM down.
  bool ownGroup = shim::shimGroup(bundle, f.id) == f.id;
  containerd::task::v2::DeleteResponse r = runtime::blockOn(
      (*rt)->loop(), [](runtime::Runtime& rt, std::string id, bool ownsVm) -> Task<containerd::task::v2::DeleteResponse> {
        auto api = co_await platforms::DaemonHcs::connect(rt, platforms::defaultHcsAddress());
        hcs::HcsApi* hcs = api.ok() ? api->get() : nullptr;
        co_return co_await shim::cleanupAfterDeadShim(rt, hcs, id, ownsVm);
      }(**rt, f.id, ownGroup));
  runtime::drain((*rt)->loop());
  platforms::LinuxRootfsMounter().unmount(bundle + "/rootfs");
  // Its layer images' references and its scratch disk (as the live shim's
  // Delete lets them go).
  {
    platforms::LinuxShimPlatform platform(**rt, platforms::defaultHcsAddress());
    if (auto* layers = platform.layerImages()) (void)layers->releaseAll(f.ns + "/" + f.id);
  }
  // The dead server's socket, if it was the group's own.
  if (ownGroup) ::unlink(socketFor(f, f.id).c_str());
  std::string out = r.SerializeAsString();
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int serve(const Flags& f, const std::string& bootFiles) {
  // Our log goes to the bundle's `log` FIFO when containerd reads it.
  int logFd = ::open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (logFd >= 0) {
    int flags = fcntl(logFd, F_GETFL);
    fcntl(logFd, F_SETFL, flags & ~O_NONBLOCK);
    dup2(logFd, STDERR_FILENO);
    ::close(logFd);
  }
  runtime::TerminationSignals signals;
  auto rt = runtime::RealRuntime::create("shim");
  if (!rt.ok()) return 1;
  std::string hcsAddress = platforms::defaultHcsAddress();
  auto api = runtime::blockOn((*rt)->loop(), platforms::DaemonHcs::connect(**rt, hcsAddress));
  if (!api.ok()) {
    HLOG(Error, "shim.no_hcs").kv("address", hcsAddress).kv("error", noHcs(hcsAddress, api.status()));
    return 1;
  }
  const char* ttrpcAddress = std::getenv("TTRPC_ADDRESS");
  shim::Publisher events(**rt, ttrpcAddress ? std::string("unix://") + ttrpcAddress : "", f.ns);
  platforms::LinuxShimPlatform platform(**rt, hcsAddress);
  shim::TaskModel model(**rt, **api, events, platform, shim::ShimConfig{.ns = f.ns, .defaultBootFiles = bootFiles});
  std::error_code ec;
  fs::create_directories(fs::path(f.socket).parent_path(), ec);
  auto listener = (*rt)->transport().listen("unix://" + f.socket);
  if (!listener.ok()) {
    HLOG(Error, "shim.listen_failed").kv("socket", f.socket).kv("error", listener.status().toString());
    return 1;
  }
  HLOG(Info, "shim.serving").kv("id", f.id).kv("socket", f.socket).kv("namespace", f.ns).kv("pid", getpid())
      .kv("boot_files", bootFiles);
  bool stop = false;
  runtime::spawn([](runtime::TerminationSignals& sigs, runtime::EpollEventLoop& loop, bool& stop) -> Task<void> {
    (void)co_await sigs.wait(loop);
    stop = true;
  }(signals, (*rt)->epoll(), stop));
  shim::serveTasks(**rt, model, events, std::move(*listener), stop);
  signals.cancel();
  ::unlink(f.socket.c_str());
  HLOG(Info, "shim.exiting").kv("id", f.id);
  runtime::drain((*rt)->loop());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = shim::parseShimArgs(argc, argv);
  if (const int* exitStatus = std::get_if<int>(&parsed)) return *exitStatus;
  const Flags& f = std::get<Flags>(parsed);
  log::setLevel(f.debug ? LogLevel::kDebug : LogLevel::kInfo);
  if (f.verb == "start") return start(f, argv[0]);
  if (f.verb == "delete") return deleteTask(f);
  std::error_code ec;
  return serve(f, (fs::absolute(argv[0], ec).parent_path() / "LinuxBootFiles").string());
}
