// gcs: the Linux guest agent. Dials the host's bridge port and serves the
// bridge protocol; containers run through runc.
//
//   gcs [--hybrid-vsock /path/vm.sock | --vsock-cid 2] [--state-dir /run/gcs]
//       [--mount-root DIR]... [--plan9-root DIR] [--scsi-root DIR] [--pmem-root DIR]
//       [--runc PATH] [--no-pivot] [-debug | -quiet]
//
// --plan9-root/--scsi-root/--pmem-root say where shares and hot-added disks
// appear when the agent runs as a host process (simulation); in a VM they
// are found the way a kernel presents them.
//
// In a VM it dials AF_VSOCK CID 2; in simulation it dials hybrid vsock unix
// sockets ("<uds>_<port>"). --init (PID 1 of a VM) mounts /proc, /sys, /dev,
// /run and the cgroup hierarchy first and powers off at the end; --sim-vm
// (a simulated VM: own namespaces, given by the fake HCS) mounts its own
// /run; --boot takes entropy from host port 1 and sends its log to port 109
// first. In every mode it is a child subreaper that reaps orphans.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/input.h>
#include <linux/vm_sockets.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gcs/agent.h"
#include "gcs/init/boot.h"
#include "src/bridge/protocol.h"
#include "gcs/runc_runtime.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/signals.h"

namespace {

using namespace hcsshim;

// As PID 1 of a VM: the filesystems everything else expects (those the
// image's /init did not mount already).
void initMounts() {
  guest_boot::mountBoot([](const char* target, int err) {
    HLOG(Warn, "gcs.init.mount_failed").kv("target", target).kv("error", std::strerror(err));
  });
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
}

// dialHost connects to host port `port` (blocking; up to ~10 s of retries):
// hybrid vsock "<uds>_<port>" or AF_VSOCK CID:port.
int dialHost(const std::string& hybrid, uint32_t cid, uint32_t port) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (!hybrid.empty()) {
      // Hybrid vsock: the host's unix socket (any path length).
      auto fd = hcsshim::runtime::connectUnixBlocking(hybrid + "_" + std::to_string(port));
      if (fd.ok()) return fd->release();
    } else {
      hcsshim::runtime::UniqueFd fd(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_vm a{};
      a.svm_family = AF_VSOCK;
      a.svm_cid = cid;
      a.svm_port = port;
      if (fd && connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd.release();
    }
    usleep(100 * 1000);
  }
  return -1;
}

// bootSequence: what a utility VM's init does before the agent runs - take
// 512 bytes of entropy from host port 1, and send the agent's log to host
// port 109 (it becomes our stderr).
void bootSequence(const std::string& hybrid, uint32_t cid) {
  int entropy = dialHost(hybrid, cid, hcsshim::bridge::kEntropyPort);
  if (entropy >= 0) {
    char seed[512];
    size_t got = 0;
    while (got < sizeof seed) {
      ssize_t n = read(entropy, seed + got, sizeof seed - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    close(entropy);
    int random = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (random >= 0) {
      (void)!write(random, seed, got);  // mixes into the pool; credits nothing
      close(random);
    }
  }
  int logs = dialHost(hybrid, cid, hcsshim::bridge::kLogPort);
  if (logs >= 0) {
    dup2(logs, STDERR_FILENO);
    close(logs);
  }
  HLOG(Info, "gcs.booted").kv("entropy", entropy >= 0).kv("log_forwarding", logs >= 0);
}

// openPowerButton: the ACPI power button's input device (QEMU's
// system_powerdown presses it), non-blocking; -1 when there is none.
int openPowerButton() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/input", ec)) {
    std::string name = e.path().filename();
    if (name.rfind("event", 0) != 0) continue;
    std::string devName;
    std::ifstream f(e.path() / "device/name");
    std::getline(f, devName);
    if (devName != "Power Button") continue;
    int fd = open(("/dev/input/" + name).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) return fd;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string hybrid, stateDir = "/run/gcs", plan9Root, scsiRoot, pmemRoot, runcPath = "runc", cgroupParent;
  bool init = false, simVm = false, boot = false;
  uint32_t cid = 2;
  bool noPivot = false;
  std::vector<std::string> mountRoots;
  bool debug = false, quiet = false;
  int64_t cidFlag = cid;
  FlagSet flags("gcs");
  flags.string("hybrid-vsock", &hybrid, "reach the host over hybrid vsock unix sockets <path>_<port> (sim VMs)");
  flags.integer("vsock-cid", &cidFlag, "the host's vsock CID (default 2)");
  flags.string("state-dir", &stateDir, "the agent's state (default /run/gcs)");
  flags.string("plan9-root", &plan9Root, "where Plan9 shares appear (sim VMs)");
  flags.string("scsi-root", &scsiRoot, "where SCSI disks appear (sim VMs)");
  flags.string("pmem-root", &pmemRoot, "where VPMem devices appear (sim VMs)");
  flags.string("cgroup-parent", &cgroupParent, "the cgroup containers are placed under");
  flags.boolean("init", &init, "run as the VM's PID 1 (mount /proc, /sys, ...)");
  flags.boolean("sim-vm", &simVm, "a simulated VM: a private /run");
  flags.boolean("boot", &boot, "the boot sequence: entropy from port 1, logs to port 109");
  flags.string("runc", &runcPath, "the runc binary");
  flags.strings("mount-root", &mountRoots, "a directory guest mounts may go under (repeatable)");
  flags.boolean("no-pivot", &noPivot, "runc --no-pivot (an initramfs root)");
  bool exitOnBridgeEof = false;
  flags.boolean("exit-on-bridge-eof", &exitOnBridgeEof, "exit 1 when the host hangs up the bridge (as hcsshim's guest does)");
  flags.boolean("debug", &debug, "log debug events");
  flags.boolean("quiet", &quiet, "log warnings and errors only");
  auto rest = flags.parse(argc, argv);
  if (!rest.ok() || !rest->empty() || cidFlag < 0 || cidFlag > 0xffffffffll) {
    std::fprintf(stderr, "%s\n", !rest.ok() ? rest.status().message().c_str()
                                            : rest->empty() ? "gcs: -vsock-cid out of range" : ("gcs: unexpected argument " + rest->front()).c_str());
    std::fprintf(stderr, "usage: gcs [flags]\n%s", flags.usage().c_str());
    return 2;
  }
  cid = static_cast<uint32_t>(cidFlag);
  if (debug) log::setLevel(LogLevel::kDebug);
  if (quiet) log::setLevel(LogLevel::kWarn);
  if (init) {
    initMounts();
    // runc cannot pivot_root out of an initramfs (EINVAL): the rootfs of a
    // utility VM booted from initrd.img is one.
    struct statfs root {};
    if (!noPivot && statfs("/", &root) == 0 && (root.f_type == RAMFS_MAGIC || root.f_type == TMPFS_MAGIC)) {
      noPivot = true;
    }
  }
  if (simVm) {
    // A simulated VM: this process has its own (private) mount namespace;
    // /run becomes the guest's own, as in a real utility VM.
    if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
      std::fprintf(stderr, "gcs: --sim-vm: mounting /run: %s\n", std::strerror(errno));
      return 1;
    }
  }
  if (mountRoots.empty()) mountRoots = {"/run", "/tmp"};
  mountRoots.push_back(stateDir);
  std::string prefix = hybrid.empty() ? "vsock://" + std::to_string(cid) + ":" : "unix://" + hybrid + "_";
  if (boot) bootSequence(hybrid, cid);

  runtime::TerminationSignals signals;
  auto rt = runtime::RealRuntime::create("gcs");
  if (!rt.ok()) {
    std::fprintf(stderr, "gcs: %s\n", rt.status().toString().c_str());
    return 1;
  }
  if (Status st = runtime::becomeChildSubreaper(); !st.ok() && getpid() != 1) {
    HLOG(Warn, "gcs.subreaper_failed").kv("error", st.message());
  }
  std::error_code ec;
  std::filesystem::create_directories(stateDir + "/runc", ec);
  std::filesystem::create_directories(stateDir + "/c", ec);

  gcs::PrefixDialer dialer((*rt)->transport(), prefix);
  gcs::RuncRuntime runc((*rt)->epoll(), (*rt)->posixProcesses(),
                        gcs::RuncOptions{.runcPath = runcPath, .root = stateDir + "/runc", .noPivot = noPivot});
  gcs::LinuxMounter mounter;
  gcs::LinuxNetworkManager network((*rt)->processes(), stateDir);
  gcs::Agent agent(**rt, dialer, runc, mounter,
                   gcs::AgentOptions{.stateDir = stateDir,
                                     .mountRoots = mountRoots,
                                     .plan9Root = plan9Root,
                                     .scsiRoot = scsiRoot,
                                     .pmemRoot = pmemRoot,
                                     .cgroupParent = cgroupParent,
                                     .exitOnBridgeEof = exitOnBridgeEof},
                   &network);
  HLOG(Info, "gcs.starting").kv("host", prefix).kv("state_dir", stateDir).kv("pid", getpid());

  // Orphans reparented to us are reaped once a second (after a grace period
  // in which a container process can still be adopted).
  bool done = false;
  std::function<void()> reap = [&] {
    (*rt)->posixProcesses().reapOrphans();
    if (!done) (*rt)->loop().addTimer(std::chrono::seconds(1), reap);
  };
  (*rt)->loop().addTimer(std::chrono::seconds(1), reap);
  runtime::spawn([](runtime::TerminationSignals& sigs, runtime::EpollEventLoop& loop, gcs::Agent& a) -> runtime::Task<void> {
    int sig = co_await sigs.wait(loop);
    HLOG(Info, "gcs.signal").kv("signal", sig);
    a.stop();
  }(signals, (*rt)->epoll(), agent));
  if (init) {
    // HCS shuts a QEMU utility VM down with the ACPI power button.
    runtime::spawn([](runtime::EpollEventLoop& loop, gcs::Agent& a) -> runtime::Task<void> {
      int fd = openPowerButton();
      // Not there yet: its driver may still be loading (gcs/init).
      for (int i = 0; fd < 0 && i < 2000 && std::filesystem::exists("/run/gcs-modules.loading"); ++i) {
        co_await runtime::sleep(loop, std::chrono::milliseconds(10));
        fd = openPowerButton();
      }
      if (fd < 0) co_return;
      runtime::UniqueFd owned(fd);
      auto watch = loop.watchFd(fd);
      if (!watch.ok()) co_return;
      for (;;) {
        input_event ev;
        ssize_t n = read(fd, &ev, sizeof ev);
        if (n == sizeof ev) {
          if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1) {
            HLOG(Info, "gcs.power_button");
            a.stop();
            break;
          }
          continue;
        }
        if (n < 0 && errno != EAGAIN) break;
        (*watch)->clearReadReady();
        co_await (*watch)->readable();
        if ((*watch)->closed()) co_return;
      }
      loop.unwatch(*watch);
    }((*rt)->epoll(), agent));
  }
  runtime::blockOn((*rt)->loop(), agent.run());
  done = true;
  signals.cancel();  // stopped by the host, not by a signal
  runtime::drain((*rt)->loop());
  if (init) {
    // PID 1 of a VM must not exit (the kernel would panic): power the VM off.
    sync();
    reboot(RB_POWER_OFF);
  }
  return agent.failed() ? 1 : 0;
}
