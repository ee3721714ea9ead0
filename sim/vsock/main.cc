// vhost-user-vsock: a virtio-vsock device for QEMU's vhost-user-vsock-pci,
// bridging the guest's AF_VSOCK to hybrid vsock unix sockets (see device.h).
//
//   vhost-user-vsock --socket /run/vm/vhost.sock --uds /run/vm/vsock.sock
//                    [--guest-cid 3] [--vm-dir DIR] [--remove-on-exit PATH]... [-debug | -quiet]
//
// Listens on --socket for QEMU (`-chardev socket,id=c,path=<socket>
// -device vhost-user-vsock-pci,chardev=c`), serves one VM and exits when
// QEMU hangs up: 0 after a clean hang-up, 1 when the protocol broke.
// It also exits when its parent dies (PR_SET_PDEATHSIG, SIGTERM), so it
// never outlives whoever runs the VM, and on its way out removes the VM's
// files (a fake HCS killed with SIGKILL cannot): --vm-dir DIR (and DIR's
// parent if that is left empty) and each --remove-on-exit PATH.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "sim/vsock/server.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/signals.h"

int main(int argc, char** argv) {
  using namespace hcsshim;
  std::string socketPath, uds;
  int64_t cid = 3;
  bool debug = false, quiet = false;
  FlagSet flags("vhost-user-vsock");
  flags.string("socket", &socketPath, "the vhost-user socket QEMU connects to");
  flags.string("uds", &uds, "the hybrid vsock socket (host-initiated: CONNECT <port>; guest-initiated: <uds>_<port>)");
  flags.integer("guest-cid", &cid, "the guest's CID (default 3)");
  flags.boolean("debug", &debug, "log every vhost-user message and connection event");
  flags.boolean("quiet", &quiet, "log warnings and errors only");
  std::vector<std::string> removeOnExit;
  std::string vmDir;
  flags.strings("remove-on-exit", &removeOnExit, "a path removed when this process ends (repeatable)");
  flags.string("vm-dir", &vmDir, "the VM's directory: removed when this process ends, and its parent if empty");
  auto rest = flags.parse(argc, argv);
  if (!rest.ok() || !rest->empty() || socketPath.empty() || uds.empty() || cid < 3 || cid > 0xfffffffell) {
    std::fprintf(stderr, "%s\nusage: vhost-user-vsock --socket PATH --uds PATH [--guest-cid N] [-debug]\n%s",
                 !rest.ok() ? rest.status().message().c_str() : "vhost-user-vsock: --socket and --uds are required (CID >= 3)",
                 flags.usage().c_str());
    return 2;
  }
  if (debug) log::setLevel(LogLevel::kDebug);
  if (quiet) log::setLevel(LogLevel::kWarn);
  runtime::TerminationSignals signals;  // SIGTERM from here on arrives as an event
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  auto cleanup = [&] {
    std::error_code ec;
    for (const auto& p : removeOnExit) std::filesystem::remove_all(p, ec);
    if (!vmDir.empty()) {
      std::filesystem::remove_all(vmDir, ec);
      ::rmdir(std::filesystem::path(vmDir).parent_path().c_str());  // fails unless empty
    }
  };
  if (getppid() == 1) {  // the parent is already gone
    cleanup();
    return 1;
  }
  auto rt = runtime::RealRuntime::create("vhost-user-vsock");
  if (!rt.ok()) {
    std::fprintf(stderr, "vhost-user-vsock: %s\n", rt.status().toString().c_str());
    return 1;
  }
  auto server = vsock::VhostUserVsockServer::create(
      (*rt)->epoll(), (*rt)->transport(),
      vsock::ServerOptions{.socketPath = socketPath, .device = {.guestCid = static_cast<uint64_t>(cid), .uds = uds}});
  if (!server.ok()) {
    std::fprintf(stderr, "vhost-user-vsock: %s\n", server.status().toString().c_str());
    cleanup();
    return 1;
  }
  HLOG(Info, "vsock.started").kv("socket", socketPath).kv("uds", uds).kv("guest_cid", cid);
  bool stopped = false;
  runtime::spawn([](runtime::TerminationSignals& sigs, runtime::EpollEventLoop& loop, bool& stopped) -> runtime::Task<void> {
    co_await sigs.wait(loop);
    stopped = true;
    loop.stop();
  }(signals, (*rt)->epoll(), stopped));
  Status result = OkStatus();
  bool done = false;
  runtime::spawn([](vsock::VhostUserVsockServer& s, Status& result, bool& done, runtime::EventLoop& loop) -> runtime::Task<void> {
    result = co_await s.serve();
    done = true;
    loop.stop();
  }(**server, result, done, (*rt)->loop()));
  (*rt)->loop().runUntil([&] { return done || stopped; });
  signals.cancel();
  server->reset();
  runtime::drain((*rt)->loop());
  cleanup();
  if (!result.ok()) {
    std::fprintf(stderr, "vhost-user-vsock: %s\n", result.message().c_str());
    return 1;
  }
  return 0;
}
