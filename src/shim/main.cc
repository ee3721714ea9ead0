// containerd-shim-runhcs-v1: the containerd runtime v2 shim for
// io.containerd.runhcs.v1 - tasks run in Linux utility VMs through HCS.
//
//   containerd-shim-runhcs-v1 -namespace NS -address GRPC -publish-binary P -id ID [-debug] start
//   containerd-shim-runhcs-v1 -namespace NS -address GRPC -id ID -bundle DIR delete
//
// `start` prints the task socket's address (starting the long-lived `serve`
// process, or reusing the group's) and writes it to the bundle's `address`
// file; `delete` cleans up after a shim that died and prints a
// DeleteResponse. The HCS is found at $HCS_FAKE_ADDRESS (default: the fake
// HCS's socket).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/daemon_hns.h"
#include "src/common/log.h"
#include "src/common/sha256.h"
#include "src/containerd/api/task.pb.h"
#include "src/hcs/compute_system.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/signals.h"
#include "src/shim/task_service.h"
#include "src/ttrpc/server.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;

struct Flags {
  std::string ns, address, publishBinary, id, bundle, socket, verb;
  bool debug = false;
};

int usage() {
  std::fprintf(stderr,
               "usage: containerd-shim-runhcs-v1 -namespace NS -address ADDR -publish-binary BIN -id ID "
               "[-bundle DIR] [-debug] start|delete|serve\n");
  return 2;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The group a task joins: a pod's sandbox, else the task itself.
std::string groupOf(const std::string& bundle, const std::string& id) {
  auto spec = parseJson(readFile(bundle + "/config.json"));
  if (spec.ok() && spec->is_object()) {
    auto a = spec->value("annotations", Json::object());
    if (a.contains("io.kubernetes.cri.sandbox-id") && a["io.kubernetes.cri.sandbox-id"].is_string()) {
      return a["io.kubernetes.cri.sandbox-id"].get<std::string>();
    }
  }
  return id;
}

std::string socketFor(const Flags& f, const std::string& group) {
  return "/run/containerd/s/" + sha256Hex(f.address + "/" + f.ns + "/" + group);
}

int start(const Flags& f, char* self) {
  std::string bundle = f.bundle.empty() ? fs::current_path().string() : f.bundle;
  std::string socket = socketFor(f, groupOf(bundle, f.id));
  std::string address = "unix://" + socket;
  auto rt = runtime::RealRuntime::create("shim-start");
  if (!rt.ok()) return 1;
  auto probe = runtime::blockOn((*rt)->loop(), (*rt)->transport().connect(address));
  if (!probe.ok()) {
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
    bool up = runtime::blockOn((*rt)->loop(), [](runtime::Runtime& rt, runtime::Process& server,
                                                 std::string address) -> Task<bool> {
      for (int i = 0; i < 5000 && !server.exitStatus(); ++i) {
        if ((co_await rt.transport().connect(address)).ok()) co_return true;
        co_await runtime::sleep(rt.loop(), std::chrono::milliseconds(1));
      }
      co_return false;
    }(**rt, **p, address));
    if (!up) {
      std::fprintf(stderr, "start: the shim server did not come up on %s\n", socket.c_str());
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
  if (groupOf(bundle, f.id) == f.id) {
    runtime::blockOn((*rt)->loop(), [](runtime::Runtime& rt, std::string id) -> Task<void> {
      auto api = co_await platforms::DaemonHcs::connect(rt, platforms::defaultHcsAddress());
      if (!api.ok()) co_return;
      auto cs = co_await hcs::ComputeSystem::open(**api, rt.loop(), shim::vmIdFor(id));
      if (cs.ok()) {
        (void)co_await (*cs)->terminate();
        (*cs)->close();
      }
    }(**rt, f.id));
    runtime::drain((*rt)->loop());
  }
  ::umount2((bundle + "/rootfs").c_str(), MNT_DETACH);
  // The dead server's socket, if it was the group's own.
  if (groupOf(bundle, f.id) == f.id) ::unlink(socketFor(f, f.id).c_str());
  containerd::task::v2::DeleteResponse r;
  r.set_pid(0);
  r.set_exit_status(137);
  int64_t now = (*rt)->loop().clock().wallNanos();
  r.mutable_exited_at()->set_seconds(now / 1000000000);
  r.mutable_exited_at()->set_nanos(static_cast<int32_t>(now % 1000000000));
  std::string out = r.SerializeAsString();
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

// connectHns: the HNS of the same fake HCS daemon (computenetwork.dll on Windows).
Task<StatusOr<std::unique_ptr<hns::HnsApi>>> connectHns(runtime::Runtime& rt) {
  auto api = co_await platforms::DaemonHns::connect(rt, platforms::defaultHcsAddress());
  if (!api.ok()) co_return api.status();
  co_return std::unique_ptr<hns::HnsApi>(std::move(*api));
}

int serve(const Flags& f) {
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
    HLOG(Error, "shim.no_hcs").kv("address", hcsAddress).kv("error", api.status().toString());
    return 1;
  }
  const char* ttrpcAddress = std::getenv("TTRPC_ADDRESS");
  shim::Publisher events(**rt, ttrpcAddress ? std::string("unix://") + ttrpcAddress : "", f.ns);
  std::string boot = "/run/hcsshim-cpp/boot";
  if (!fs::exists(boot + "/vmlinux")) {
    fs::create_directories(boot);
    std::ofstream(boot + "/vmlinux") << "placeholder: the fake HCS's sim backend runs gcs as the guest\n";
    std::ofstream(boot + "/initrd.img") << "placeholder: the fake HCS's sim backend runs gcs as the guest\n";
  }
  shim::TaskService service(**rt, **api, events,
                            shim::ShimConfig{.ns = f.ns,
                                             .vsockRoot = platforms::vsockRootFor(hcsAddress),
                                             .defaultBootFiles = boot,
                                             .connectHns = connectHns});
  ttrpc::Server server(**rt, ttrpc::ServerOptions{.requireSameUser = true});
  service.registerWith(server);
  fs::create_directories(fs::path(f.socket).parent_path());
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
  HLOG(Info, "shim.serving").kv("id", f.id).kv("socket", f.socket).kv("namespace", f.ns).kv("pid", getpid());
  bool stop = false;
  runtime::spawn([](shim::TaskService& svc, bool& stop) -> Task<void> {
    co_await svc.waitDone();
    stop = true;
  }(service, stop));
  runtime::spawn([](runtime::TerminationSignals& sigs, runtime::EpollEventLoop& loop, bool& stop) -> Task<void> {
    (void)co_await sigs.wait(loop);
    stop = true;
  }(signals, (*rt)->epoll(), stop));
  (*rt)->loop().runUntil([&] { return stop; });
  service.finish();   // whichever way we stop, the other waiter ends too
  signals.cancel();
  runtime::blockOn((*rt)->loop(), service.closeAll());
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
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!a.empty() && a[0] == '-' && a.size() > 1) {
      std::string name = a.substr(a[1] == '-' ? 2 : 1);
      std::string value;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (name != "debug" && i + 1 < argc) {
        value = argv[++i];
      }
      if (name == "namespace") f.ns = value;
      else if (name == "address") f.address = value;
      else if (name == "publish-binary") f.publishBinary = value;
      else if (name == "id") f.id = value;
      else if (name == "bundle") f.bundle = value;
      else if (name == "socket") f.socket = value;
      else if (name == "debug") f.debug = true;
      else if (name == "v" || name == "version") {
        std::printf("containerd-shim-runhcs-v1 (hcsshim-cpp)\n");
        return 0;
      }
      continue;
    }
    f.verb = a;
  }
  log::setLevel(f.debug ? LogLevel::kDebug : LogLevel::kInfo);
  if (f.verb == "start") return start(f, argv[0]);
  if (f.verb == "delete") return deleteTask(f);
  if (f.verb == "serve" && !f.socket.empty()) return serve(f);
  return usage();
}
