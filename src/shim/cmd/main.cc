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
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/common/sha256.h"
#include "src/containerd/api/task.pb.h"
#include "src/hcs/compute_system.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/signals.h"
#include "src/runtime/wait_for.h"
#include "src/shim/task_service.h"
#include "src/shim/vm_options.h"
#include "src/ttrpc/server.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;

struct Flags {
  std::string ns, address, publishBinary, id, bundle, socket;
  bool debug = false;
};

// The group a task joins: a pod's sandbox, else the task itself.
std::string groupOf(const std::string& bundle, const std::string& id) {
  auto spec = parseJson(runtime::readFile(bundle + "/config.json", 16 << 20).value_or(""));
  if (spec.ok() && spec->is_object()) {
    auto a = spec->value("annotations", Json::object());
    if (a.is_object() && a.contains("io.kubernetes.cri.sandbox-id") && a["io.kubernetes.cri.sandbox-id"].is_string()) {
      return a["io.kubernetes.cri.sandbox-id"].get<std::string>();
    }
  }
  return id;
}

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
  std::string socket = socketFor(f, groupOf(bundle, f.id));
  std::string address = "unix://" + socket;
  auto rt = runtime::RealRuntime::create("shim-start");
  if (!rt.ok()) return 1;
  auto probe = runtime::blockOn((*rt)->loop(), (*rt)->transport().connect(address));
  if (!probe.ok()) {
    // Say up front when there is no HCS: the server would only die of it.
    std::string hcsAddress = platforms::defaultHcsAddress();
    auto hcs = runtime::blockOn((*rt)->loop(), (*rt)->transport().connect(hcsAddress));
    if (!hcs.ok()) {
      std::fprintf(stderr, "%s\n", noHcs(hcsAddress, hcs.status()).c_str());
      return 1;
    }
    (*hcs)->close();
    // Start the server: its own session, no handle on our stdout.
    runtime::ProcessSpec spec{.path = self,
                              .args = {self, "-namespace", f.ns, "-address", f.address, "-publish-binary",
                                       f.publishBinary, "-id", f.id, "-bundle", bundle, "-socket", socket}};
    if (f.debug) spec.args.push_back("-debug");
    spec.args.push_back("serve");
    spec.newSession = true;
    spec.killOnParentDeath = false;
    spec.stdinMode = runtime::StdioMode::kNull;
    spec.stdoutMode = runtime::StdioMode::kNull;
    spec.stderrMode = runtime::StdioMode::kNull;
    spec.cwd = bundle;
    auto p = (*rt)->processes().spawn(spec);
    if (!p.ok()) {
      std::fprintf(stderr, "start: %s\n", p.status().toString().c_str());
      return 1;
    }
    runtime::Process& server = **p;
    bool up = runtime::blockOn((*rt)->loop(), runtime::waitForAsync(
                                                  (*rt)->loop(),
                                                  [&]() -> Task<bool> {
                                                    if (server.exitStatus()) co_return true;
                                                    co_return (co_await (*rt)->transport().connect(address)).ok();
                                                  },
                                                  std::chrono::seconds(5), std::chrono::milliseconds(1)));
    if (!up || server.exitStatus()) {
      std::fprintf(stderr, "start: the shim server did not come up on %s%s\n", socket.c_str(),
                   server.exitStatus() ? " (it exited; see containerd's log)" : "");
      return 1;
    }
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
  bool ownGroup = groupOf(bundle, f.id) == f.id;
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
  ttrpc::Server server(**rt, ttrpc::ServerOptions{.requireSameUser = true});
  shim::registerTaskService(model, server);
  shim::registerDiagService(model, server);
  std::error_code ec;
  fs::create_directories(fs::path(f.socket).parent_path(), ec);
  auto listener = (*rt)->transport().listen("unix://" + f.socket);
  if (!listener.ok()) {
    HLOG(Error, "shim.listen_failed").kv("socket", f.socket).kv("error", listener.status().toString());
    return 1;
  }
  bool served = false;
  runtime::spawn([](ttrpc::Server& s, std::unique_ptr<runtime::Listener> l, bool& done) -> Task<void> {
    (void)co_await s.serve(std::move(l));
    done = true;
  }(server, std::move(*listener), served));
  HLOG(Info, "shim.serving").kv("id", f.id).kv("socket", f.socket).kv("namespace", f.ns).kv("pid", getpid())
      .kv("boot_files", bootFiles);
  bool stop = false;
  runtime::spawn([](shim::TaskModel& m, bool& stop) -> Task<void> {
    co_await m.waitDone();
    stop = true;
  }(model, stop));
  runtime::spawn([](runtime::TerminationSignals& sigs, runtime::EpollEventLoop& loop, bool& stop) -> Task<void> {
    (void)co_await sigs.wait(loop);
    stop = true;
  }(signals, (*rt)->epoll(), stop));
  (*rt)->loop().runUntil([&] { return stop; });
  model.finish();  // whichever way we stop, the other waiter ends too
  signals.cancel();
  runtime::blockOn((*rt)->loop(), model.closeAll());
  runtime::blockOn((*rt)->loop(), events.flushed());
  server.shutdown();
  (*rt)->loop().runUntil([&] { return served; });
  ::unlink(f.socket.c_str());
  HLOG(Info, "shim.exiting").kv("id", f.id);
  runtime::drain((*rt)->loop());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  bool version = false;
  FlagSet flags("containerd-shim-runhcs-v1");
  flags.string("namespace", &f.ns, "containerd namespace");
  flags.string("address", &f.address, "containerd's grpc address");
  flags.string("publish-binary", &f.publishBinary, "containerd's binary for publishing events");
  flags.string("id", &f.id, "the task id");
  flags.string("bundle", &f.bundle, "the task's bundle directory");
  flags.string("socket", &f.socket, "(serve) the task socket");
  flags.boolean("debug", &f.debug, "log debug events");
  flags.boolean("v", &version, "print the version");
  flags.boolean("version", &version, "print the version");
  auto args = flags.parse(argc, argv);
  if (version) {
    std::printf("containerd-shim-runhcs-v1 (hcsshim-cpp)\n");
    return 0;
  }
  std::string verb = args.ok() && args->size() == 1 ? args->front() : "";
  if (verb.empty() || (verb == "serve" && f.socket.empty())) {
    std::fprintf(stderr, "%susage: containerd-shim-runhcs-v1 [flags] start|delete|serve\n%s",
                 args.ok() ? "" : (args.status().message() + "\n").c_str(), flags.usage().c_str());
    return 2;
  }
  log::setLevel(f.debug ? LogLevel::kDebug : LogLevel::kInfo);
  if (verb == "start") return start(f, argv[0]);
  if (verb == "delete") return deleteTask(f);
  if (verb == "serve") {
    std::error_code ec;
    std::string bootFiles = (fs::absolute(argv[0], ec).parent_path() / "LinuxBootFiles").string();
    return serve(f, bootFiles);
  }
  std::fprintf(stderr, "containerd-shim-runhcs-v1: unknown verb %s (want start, delete or serve)\n", verb.c_str());
  return 2;
}
