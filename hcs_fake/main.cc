// hcs_fake: the fake HCS service daemon.
//
// As a host service (what containerd's shims need running):
//   hcs_fake --detach     start in the background at the default address
//   hcs_fake --status     is it running
//   hcs_fake --stop       stop it (every VM is stopped first)
// (see host_service.h: pid file and log in the state directory).
//
//   hcs_fake [--address unix:///path/hcs.sock] [--state-dir DIR] [--vm-backend sim|qemu|none]
//            [--gcs PATH] [--vsock-root DIR] [--gcs-debug] [-debug | -quiet]
//            [--qemu PATH] [--vsock-device PATH] [--accel auto|kvm|tcg]
//            [--hns-version MAJOR.MINOR] [--hns-state FILE]
//
// Also serves the fake HNS/HCN (service hcsshim.hcsfake.v1.Hns): networks
// persist in --hns-state (default: hns.json in the state dir) across
// restarts; --hns-version sets the version it reports (default 15.4).
//
// VirtualMachine systems get a guest from the VM backend: `sim` (default)
// runs the gcs binary (--gcs; default: next to this binary) as the guest,
// wired to hybrid vsock sockets under --vsock-root (default: vsock/ next to
// the socket); `qemu` boots the document's kernel and initrd under QEMU
// (--qemu, default qemu-system-x86_64) with a vhost-user-vsock device
// (--vsock-device; default: next to this binary) serving the same hybrid
// vsock sockets, on KVM when a probe guest runs there, else TCG (--accel);
// `none` runs the lifecycle without a guest. HCS_BACKEND=qemu (the
// conformance run's --backend=qemu) makes qemu the default.
//
// Serves the HCS API (service hcsshim.hcsfake.v1.Hcs, see api/hcs_fake.proto)
// to clients of the same uid on a unix socket; platforms/linux's DaemonHcs is
// the client. Default address: $HCS_FAKE_ADDRESS, else
// unix:///tmp/hcs-fake-<uid>/hcs.sock. SIGTERM/SIGINT stop every compute
// system, tell clients (their event waits fail: ServiceDisconnect) and exit 0.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "hcs_fake/daemon_service.h"
#include "hcs_fake/hns_daemon_service.h"
#include "hcs_fake/host_service.h"
#include "hcs_fake/owner.h"
#include "hcs_fake/service.h"
#include "hcs_fake/qemu/qemu_backend.h"
#include "hcs_fake/sim_backend.h"
#include "hcs_fake/standin_service.h"
#include "platforms/linux/daemon_hcs.h"
#include "src/common/flags.h"
#include "src/common/guid.h"
#include "src/common/log.h"
#include "src/hcs/recording.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/signals.h"
#include "src/ttrpc/server.h"

namespace {

using hcsshim::runtime::Task;

void usage(const hcsshim::FlagSet& flags) {
  std::fprintf(stderr, "usage: hcs_fake [flags]\n%s", flags.usage().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hcsshim;
  std::string address = platforms::defaultHcsAddress();
  std::string stateDir, vmBackend = "sim", gcsPath, vsockRoot, hnsState;
  // HCS_BACKEND is the conformance run's backend: "qemu" means the fake HCS
  // with QEMU VMs; every other value (fake, inprocess, wire, daemon) the sim.
  if (const char* b = std::getenv("HCS_BACKEND"); b && std::string(b) == "qemu") vmBackend = "qemu";
  std::string qemuPath = "qemu-system-x86_64", vsockDevice, accel = "auto";
  schema::HcnVersion hnsVersion{15, 4, {}};
  std::vector<std::string> gcsArgs;
  bool debug = false, quiet = false, gcsDebug = false, help = false;
  FlagSet flags("hcs_fake");
  flags.string("address", &address, "the socket to serve on (unix:///path/hcs.sock)");
  flags.string("state-dir", &stateDir, "state (stdio, VMs, hns.json; default: the socket's directory)");
  flags.string("vm-backend", &vmBackend, "sim (default; qemu when HCS_BACKEND=qemu), qemu or none");
  flags.string("qemu", &qemuPath, "the QEMU binary (qemu backend; default qemu-system-x86_64)");
  flags.string("vsock-device", &vsockDevice, "the vhost-user-vsock binary (qemu backend; default: next to this binary)");
  flags.string("accel", &accel, "auto (KVM if a probe guest runs on it, else TCG), kvm or tcg (qemu backend)");
  flags.string("gcs", &gcsPath, "the guest agent the sim backend runs (default: next to this binary)");
  flags.string("vsock-root", &vsockRoot, "where VMs' hybrid vsock sockets go (default: vsock/ next to the socket)");
  flags.boolean("gcs-debug", &gcsDebug, "the guest agents log debug events");
  std::vector<std::string> extraGcsArgs;
  flags.strings("gcs-arg", &extraGcsArgs, "one more argument for every guest agent (repeatable)");
  flags.boolean("debug", &debug, "log debug events");
  flags.boolean("quiet", &quiet, "log warnings and errors only");
  flags.custom("hns-version", [&](const std::string& v) -> Status {
    unsigned major = 0, minor = 0;
    char tail = 0;
    if (std::sscanf(v.c_str(), "%u.%u%c", &major, &minor, &tail) != 2) return InvalidArgumentError("want MAJOR.MINOR, got " + v);
    hnsVersion = schema::HcnVersion{major, minor, {}};
    return OkStatus();
  }, "the HNS version reported (MAJOR.MINOR, default 15.4)");
  flags.string("hns-state", &hnsState, "where HNS networks persist (default: hns.json in the state dir)");
  flags.boolean("help", &help, "this text");
  bool detachFlag = false, stopFlag = false, statusFlag = false;
  std::string logFile;
  flags.boolean("detach", &detachFlag, "start the daemon in the background, wait until it serves, exit");
  flags.boolean("stop", &stopFlag, "stop the daemon serving at --address (its pid file), wait");
  flags.boolean("status", &statusFlag, "say whether a daemon serves at --address (exit 3 if not)");
  flags.string("log-file", &logFile, "append the log here instead of stderr");
  std::string standinAddress, standinTokenFile, replayPath;
  flags.string("replay", &replayPath,
               "serve this recording (src/hcs/recording.h JSON lines) as a scripted HCS: each connection is answered "
               "as recorded; the first call that differs fails and is logged (hcs_fake.replay.diverged)");
  flags.string("standin", &standinAddress,
               "also serve the stand-in computecore.dll/computenetwork.dll here (tcp://127.0.0.1:PORT; 0 picks a port, "
               "written to <state-dir>/standin.address)");
  flags.string("standin-token-file", &standinTokenFile, "the token --standin clients must present (its first line)");
  auto rest = flags.parse(argc, argv);
  if (!rest.ok() || !rest->empty()) {
    std::fprintf(stderr, "%s\n", rest.ok() ? ("hcs_fake: unexpected argument " + rest->front()).c_str()
                                           : rest.status().message().c_str());
    usage(flags);
    return 2;
  }
  if (help) {
    usage(flags);
    return 0;
  }
  if (debug) log::setLevel(LogLevel::kDebug);
  if (quiet) {
    log::setLevel(LogLevel::kWarn);
    gcsArgs.push_back("-quiet");
  }
  if (gcsDebug) gcsArgs.push_back("-debug");
  gcsArgs.insert(gcsArgs.end(), extraGcsArgs.begin(), extraGcsArgs.end());
  auto path = runtime::unixSocketPath(address);
  if (!path.ok()) {
    std::fprintf(stderr, "hcs_fake: %s\n", path.status().toString().c_str());
    return 2;
  }
  if (stateDir.empty()) stateDir = std::filesystem::path(*path).parent_path().string();
  if (!logFile.empty()) {
    int fd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::fprintf(stderr, "hcs_fake: --log-file %s: %s\n", logFile.c_str(), std::strerror(errno));
      return 1;
    }
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  if (vsockRoot.empty()) vsockRoot = platforms::vsockRootFor(address);
  if (vmBackend != "sim" && vmBackend != "qemu" && vmBackend != "none") {
    std::fprintf(stderr, "hcs_fake: --vm-backend: want sim, qemu or none, got %s\n", vmBackend.c_str());
    return 2;
  }
  if (accel != "auto" && accel != "kvm" && accel != "tcg") {
    std::fprintf(stderr, "hcs_fake: --accel: want auto, kvm or tcg, got %s\n", accel.c_str());
    return 2;
  }
  hcs_fake::ServicePaths paths = hcs_fake::servicePaths(address, stateDir);
  if (stopFlag) return hcs_fake::stop(paths);
  if (statusFlag) return hcs_fake::status(paths);
  if (detachFlag) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a != "--detach" && a != "-detach") args.push_back(a);
    }
    if (!flags.seen("address")) args.push_back("--address=" + address);
    return hcs_fake::detach(argv[0], args, paths);
  }
  if (gcsPath.empty()) gcsPath = hcs_fake::findGuestAgent(argv[0]);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(*path).parent_path(), ec);
  std::filesystem::create_directories(stateDir + "/stdio", ec);
  std::filesystem::create_directories(vsockRoot, ec);
  if (ec) {
    std::fprintf(stderr, "hcs_fake: cannot create %s: %s\n", stateDir.c_str(), ec.message().c_str());
    return 1;
  }

  runtime::TerminationSignals signals;

  auto rt = runtime::RealRuntime::create("hcs_fake");
  if (!rt.ok()) {
    std::fprintf(stderr, "hcs_fake: %s\n", rt.status().toString().c_str());
    return 1;
  }
  runtime::Random& random = (*rt)->random();
  hcs_fake::FakeHns hns(hcs_fake::FakeHnsOptions{
      .version = hnsVersion,
      .statePath = hnsState.empty() ? stateDir + "/hns.json" : hnsState,
      .newId = [&random] { return Guid::fromRandom(random.next(), random.next()).toString(); }});
  std::unique_ptr<hcs_fake::VmBackend> backend;
  // The host side of an endpoint's NIC (its network's bridge, a NAT
  // network's address and port forwards: host_network.h).
  auto nicOf = [&hns](const std::string& endpointId) -> StatusOr<hcs_fake::EndpointNic> {
    auto ep = hns.endpoint(endpointId);
    if (!ep.ok()) return ep.status();
    auto net = hns.network(ep->hostComputeNetwork.value_or(""));
    if (!net.ok()) return net.status();
    return hcs_fake::endpointNic(*ep, *net);
  };
  // Host resources outside the state directory are named after this daemon
  // (owner.h): its NAT table, its cgroups, its QEMU VM directories. What
  // daemons that are provably gone left is removed first, whatever their
  // backend was.
  hcs_fake::OwnerLock owner;
  if (!owner.held()) HLOG(Warn, "hcs_fake.owner.unlocked").kv("owner", owner.name()).kv("error", owner.error());
  const std::string ownerName = owner.name().empty() ? std::to_string(getpid()) : owner.name();
  const std::string natTable = "hcs-fake-" + ownerName;
  runtime::spawn([](runtime::Runtime& rt) -> Task<void> {
    // Owners found gone stay claimed until the sweep ends (owner.h).
    hcs_fake::GoneOwners owners;
    auto gone = [&owners](const std::string& o) { return owners.gone(o); };
    // (In this order: what needs no waiting is done before the daemon
    // serves - this coroutine runs until its first wait.) A daemon killed
    // with its whole process group (a test runner's timeout) takes its
    // vhost-user devices along before they could remove its VM directories.
    std::set<std::string> left = hcs_fake::removeDeadDaemonDirs("/tmp", "hcs-fake-qemu-", gone);
    auto cgroups_task = hcs_fake::removeDeadDaemonCgroups(rt.loop(), "/sys/fs/cgroup", gone);
    left.merge(co_await std::move(cgroups_task));
    auto nat_task = hcs_fake::removeDeadDaemonNat(rt, "nft", "hcs-fake-", gone);
    left.merge(co_await std::move(nat_task));
    int forgotten = owners.forget(left);
    HLOG(Info, "hcs_fake.owner.swept").kv("owners_left", left.size()).kv("locks_removed", forgotten);
  }(**rt));
  if (vmBackend == "sim") {
    backend = std::make_unique<hcs_fake::SimVmBackend>(
        **rt, hcs_fake::SimBackendOptions{.gcsPath = gcsPath,
                                          .vsockRoot = vsockRoot,
                                          .vmRoot = stateDir + "/vm",
                                          .cgroupParent = "/hcs-fake-" + ownerName,
                                          .extraGcsArgs = gcsArgs,
                                          .lookupEndpoint = nicOf,
                                          .natTable = natTable});
  }
  if (vmBackend == "qemu") {
    backend = std::make_unique<hcs_fake::QemuVmBackend>(
        **rt, hcs_fake::QemuBackendOptions{
                  .qemuPath = qemuPath,
                  .vsockDevicePath = vsockDevice.empty() ? hcs_fake::findVsockDevice(argv[0]) : vsockDevice,
                  .vsockRoot = vsockRoot,
                  .vmRoot = "/tmp/hcs-fake-qemu-" + ownerName,
                  .accel = accel,
                  .lookupEndpoint = nicOf,
                  .natTable = natTable});
  }
  // Container systems' processes are frozen through a cgroup of their own.
  auto freezer = std::make_unique<hcs_fake::CgroupFreezer>((*rt)->loop(), "/sys/fs/cgroup",
                                                           "/hcs-fake-" + ownerName);
  hcs_fake::FakeHcsService service(**rt, std::move(backend), std::move(freezer));
  ttrpc::Server server(**rt, ttrpc::ServerOptions{.requireSameUser = true});
  std::unique_ptr<hcs_fake::DaemonService> daemonPtr;
  if (replayPath.empty()) {
    daemonPtr = std::make_unique<hcs_fake::DaemonService>(**rt, service, server, stateDir + "/stdio");
  } else {
    auto text = runtime::readFile(replayPath, 64 << 20);
    auto check = text ? hcs::ReplayHcsApi::load((*rt)->loop(), *text)
                      : StatusOr<std::unique_ptr<hcs::ReplayHcsApi>>(NotFoundError("cannot read " + replayPath));
    if (!check.ok()) {
      std::fprintf(stderr, "hcs_fake: --replay: %s\n", check.status().toString().c_str());
      return 2;
    }
    std::string recording = *text;
    runtime::EventLoop& loop = (*rt)->loop();
    daemonPtr = std::make_unique<hcs_fake::DaemonService>(
        **rt,
        [recording, &loop, replayPath](uint64_t conn) {
          auto replay = std::move(*hcs::ReplayHcsApi::load(loop, recording));
          hcs::ReplayHcsApi* raw = replay.get();  // (the session outlives its `ended`)
          HLOG(Info, "hcs_fake.replay.session").kv("conn", conn).kv("recording", replayPath);
          return hcs_fake::DaemonService::SessionApi{
              std::move(replay), nullptr, [raw, conn] {
                std::string d = raw->divergence();
                if (!d.empty()) {
                  HLOG(Warn, "hcs_fake.replay.diverged").kv("conn", conn).kv("divergence", d);
                } else {
                  HLOG(Info, "hcs_fake.replay.ended").kv("conn", conn).kv("calls_not_made", raw->remaining());
                }
              }};
        },
        server, stateDir + "/stdio");
  }
  hcs_fake::DaemonService& daemon = *daemonPtr;
  hcs_fake::registerHnsService(hns, server);
  auto listener = (*rt)->transport().listen(address);
  if (!listener.ok()) {
    std::fprintf(stderr, "hcs_fake: %s\n", listener.status().toString().c_str());
    return 1;
  }
  bool served = false;
  runtime::spawn([](ttrpc::Server& s, std::unique_ptr<runtime::Listener> l, bool& done) -> Task<void> {
    (void)co_await s.serve(std::move(l));
    done = true;
  }(server, std::move(*listener), served));
  std::unique_ptr<hcs_fake::StandinService> standin;
  if (!standinAddress.empty()) {
    std::string token = runtime::readFile(standinTokenFile, 4096).value_or("");
    token = token.substr(0, token.find('\n'));
    if (token.size() < 16) {
      std::fprintf(stderr, "hcs_fake: --standin needs --standin-token-file with a token of 16 or more characters\n");
      return 2;
    }
    auto l = (*rt)->transport().listen(standinAddress);
    if (!l.ok()) {
      std::fprintf(stderr, "hcs_fake: --standin: %s\n", l.status().toString().c_str());
      return 1;
    }
    std::string bound = (*l)->address();
    standin = std::make_unique<hcs_fake::StandinService>(**rt, service, hns, token);
    runtime::spawn(standin->serve(std::move(*l)));
    std::ofstream(stateDir + "/standin.address") << bound << "\n";
    HLOG(Info, "hcs_fake.standin.serving").kv("address", bound);
  }
  hcs_fake::writePidFile(paths.pidFile);
  HLOG(Info, "hcs_fake.ready").kv("address", address).kv("pid_file", paths.pidFile).kv("state_dir", stateDir).kv("pid", getpid()).kv("owner", ownerName)
      .kv("vm_backend", vmBackend).kv("vsock_root", vsockRoot).kv("gcs", gcsPath);

  int sig = runtime::blockOn((*rt)->loop(), signals.wait((*rt)->epoll()));
  HLOG(Info, "hcs_fake.stopping").kv("signal", sig).kv("systems", service.systemCount());
  runtime::blockOn((*rt)->loop(), service.shutdownService());
  // Let the exit notifications reach the clients before their sessions end.
  bool flushed = false;
  (*rt)->loop().addTimer(std::chrono::milliseconds(100), [&] { flushed = true; });
  (*rt)->loop().runUntil([&] { return flushed; });
  daemon.disconnectAll();
  if (standin) standin->shutdown();
  server.shutdown();
  (*rt)->loop().runUntil([&] {
    return served && server.connectionCount() == 0 && server.activeCalls() == 0 && daemon.activeRelays() == 0 &&
           (!standin || standin->connectionCount() == 0);
  });
  hcs_fake::removePidFile(paths.pidFile);
  HLOG(Info, "hcs_fake.stopped");
  return 0;
}
