// qemubench: the QEMU tier's numbers, each next to a floor or a competitor
// measured in the same run (docs/benchmarks.md):
//   1. boot: HCS Start -> bridge negotiated through the fake HCS's qemu
//      backend (uvmboot, the guest image) vs QEMU with the same kernel and
//      machine reaching a trivial /init (our init with nothing to do: it
//      mounts and powers off), alternating, medians;
//   2. host memory per utility VM: PSS of QEMU + its vhost-user-vsock device
//      with the guest idle (the guest's RAM pages are in it: memfd);
//   3. guest -> host stream throughput over our vhost-user-vsock vs a
//      virtio-serial port of the same VM (guest `dd` of zeros to each).
//
//   qemubench [--iterations N] [--megabytes M]
//
// Runs as root (uvmboot starts its own fake HCS). Binaries from its runfiles.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "functional/harness/hcs_fake_daemon.h"
#include "src/common/flags.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/wait_for.h"
#include "tools/guest_image/cpio.h"
#include "tools/guest_image/io.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;
using functional::HcsFakeDaemon;

double ms(runtime::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Run {
  int exitCode = -1;
  std::string out;
  double ms = 0;
};

// run: a process to completion, its stdout and wall time.
Run run(runtime::RealRuntime& rt, std::vector<std::string> args, bool captureStdout = true) {
  return runtime::blockOn(rt.loop(), [](runtime::RealRuntime& rt, std::vector<std::string> args, bool cap) -> Task<Run> {
    Run r;
    runtime::ProcessSpec spec{.path = args[0], .args = args};
    spec.stdoutMode = cap ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull;
    spec.stderrMode = runtime::StdioMode::kNull;
    auto t0 = rt.loop().now();
    auto p = rt.processes().spawn(spec);
    if (!p.ok()) co_return r;
    if (cap) {
      auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
      if (out.ok()) r.out = *out;
    }
    r.exitCode = (co_await (*p)->wait()).exitCode;
    r.ms = ms(rt.loop().now() - t0);
    co_return r;
  }(rt, std::move(args), captureStdout));
}

uint64_t pssKiB(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  uint64_t v = 0;
  while (f >> key) {
    if (key == "Pss:") {
      f >> v;
      return v;
    }
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

// pidsWith: processes whose command line contains every needle.
std::vector<int> pidsWith(const std::vector<std::string>& needles) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    int pid = std::atoi(p.path().filename().c_str());
    if (pid <= 0) continue;
    std::string line = runtime::readFile(std::string(p.path() / "cmdline")).value_or("");
    bool all = !line.empty();
    for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
    if (all) out.push_back(pid);
  }
  return out;
}

// trivialInitrd: /init = our init with nothing to load and nothing to run.
std::string trivialInitrd(const std::string& dir) {
  guest_image::CpioArchive a;
  auto init = guest_image::readWhole(HcsFakeDaemon::runfile("gcs/init/init"));
  (void)a.add("/init", guest_image::CpioEntry{.mode = 0755, .data = init.ok() ? *init : std::string()});
  (void)a.add("/dev/console", guest_image::CpioEntry{.kind = guest_image::CpioEntry::Kind::kCharDev, .mode = 0600,
                                                     .rdevMajor = 5, .rdevMinor = 1});
  std::string path = dir + "/trivial.img";
  std::ofstream(path, std::ios::binary) << a.serialise();
  return path;
}

struct Throughput {
  double vsockMBps = 0, serialMBps = 0;
  std::string error;
};

// streams: one VM, our vsock device and a virtio-serial port; once init's
// drivers are loaded, the guest dd's `mb` MiB of zeros into each, one after
// the other; the host counts them (first to last byte).
Throughput streams(runtime::RealRuntime& rt, const std::string& dir, const std::string& boot, int mb) {
  Throughput t;
  std::string uds = dir + "/vm.sock", vhost = dir + "/vhost.sock", serial = dir + "/serial.sock";
  std::string dev = HcsFakeDaemon::runfile("sim/vsock/vhost-user-vsock");
  auto device = rt.processes().spawn(
      runtime::ProcessSpec{.path = dev, .args = {dev, "--socket", vhost, "--uds", uds, "-quiet"}});
  if (!device.ok()) return Throughput{.error = device.status().toString()};
  for (int i = 0; i < 200 && !fs::exists(vhost); ++i) usleep(10000);
  struct Sink {
    uint64_t bytes = 0;
    runtime::TimePoint first{}, last{};
    bool done = false;
  };
  Sink vs, ser;
  auto count = [](runtime::EventLoop& loop, std::unique_ptr<runtime::Stream> s, Sink& sink) -> Task<void> {
    std::vector<char> buf(256 * 1024);
    for (;;) {
      auto n = co_await s->read(std::span<char>(buf.data(), buf.size()));
      if (!n.ok() || *n == 0) break;
      if (!sink.bytes) sink.first = loop.now();
      sink.bytes += *n;
      sink.last = loop.now();
    }
    sink.done = true;
  };
  auto l = rt.transport().listen("unix://" + uds + "_5001");
  auto sl = rt.transport().listen("unix://" + serial);
  if (!l.ok() || !sl.ok()) return Throughput{.error = "listen failed"};
  std::shared_ptr<runtime::Listener> vl(std::move(*l)), ssl(std::move(*sl));
  runtime::spawn([](runtime::EventLoop& loop, std::shared_ptr<runtime::Listener> l, Sink& sink, auto count) -> Task<void> {
    auto s = co_await l->accept();
    if (s.ok()) co_await count(loop, std::move(*s), sink);
  }(rt.loop(), vl, vs, count));
  runtime::spawn([](runtime::EventLoop& loop, std::shared_ptr<runtime::Listener> l, Sink& sink, auto count) -> Task<void> {
    auto s = co_await l->accept();
    if (s.ok()) co_await count(loop, std::move(*s), sink);
  }(rt.loop(), ssl, ser, count));
  std::string n = std::to_string(mb * 16);  // 64 KiB blocks
  // The serial port's device node by its name (no udev in the guest).
  std::string script = "while [ -e /run/gcs-modules.loading ]; do /bin/busybox sleep 0.1; done; "
                       "/bin/vsockexec -o 5001 /bin/busybox dd if=/dev/zero bs=65536 count=" + n +
                       " 2>/dev/null; for p in /sys/class/virtio-ports/*; do "
                       "[ $(/bin/busybox cat $p/name) = bench ] && d=/dev/$(/bin/busybox basename $p); done; "
                       "/bin/busybox dd if=/dev/zero of=$d bs=65536 count=" + n +
                       " 2>/dev/null; /bin/busybox poweroff -f";
  std::vector<std::string> qemu = {
      "qemu-system-x86_64", "-machine", "pc,accel=tcg,memory-backend=mem0", "-m", "512M", "-object",
      "memory-backend-memfd,id=mem0,size=512M,share=on", "-nodefaults", "-no-user-config", "-display", "none",
      "-no-reboot", "-kernel", boot + "/vmlinux", "-initrd", boot + "/initrd.img", "-append",
      "panic=-1 quiet -- /bin/sh -c \"" + script + "\"", "-chardev", "socket,id=vsock0,path=" + vhost, "-device",
      "vhost-user-vsock-pci,chardev=vsock0", "-device", "virtio-serial-pci", "-chardev",
      "socket,id=ser0,path=" + serial, "-device", "virtserialport,chardev=ser0,name=bench"};
  Run q = run(rt, qemu, false);
  (void)runtime::waitForBlocking(rt.loop(), [&] { return vs.done && ser.done; }, std::chrono::seconds(5));
  vl->close();
  ssl->close();
  (void)(*device)->signal(SIGTERM);
  (void)runtime::blockOn(rt.loop(), (*device)->wait());
  auto mbps = [](const Sink& s) {
    double secs = std::chrono::duration<double>(s.last - s.first).count();
    return secs > 0 ? s.bytes / 1048576.0 / secs : 0;
  };
  if (q.exitCode != 0 || vs.bytes != uint64_t(mb) << 20 || ser.bytes != uint64_t(mb) << 20) {
    t.error = "qemu exit " + std::to_string(q.exitCode) + ", vsock " + std::to_string(vs.bytes) + " B, serial " +
              std::to_string(ser.bytes) + " B";
  }
  t.vsockMBps = mbps(vs);
  t.serialMBps = mbps(ser);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t iterations = 5, megabytes = 64;
  FlagSet flags("qemubench");
  flags.integer("iterations", &iterations, "boots of each kind (alternating)");
  flags.integer("megabytes", &megabytes, "MiB streamed over each channel");
  auto rest = flags.parse(argc, argv);
  if (!rest.ok() || !rest->empty() || iterations < 1 || megabytes < 1) {
    std::fprintf(stderr, "usage: qemubench [--iterations N] [--megabytes M]\n%s", flags.usage().c_str());
    return 2;
  }
  // uvmboot and the fake HCS it starts find their binaries in our runfiles.
  if (!std::getenv("RUNFILES_DIR")) {
    std::error_code ec;
    std::string self = fs::read_symlink("/proc/self/exe", ec).string();
    std::string own = fs::absolute(argv[0]).string() + ".runfiles";
    setenv("RUNFILES_DIR", fs::exists(own) ? own.c_str() : (self + ".runfiles").c_str(), 1);
  }
  auto rt = std::move(*runtime::RealRuntime::create("qemubench"));
  char tmpl[] = "/tmp/qemubench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string boot = fs::path(HcsFakeDaemon::runfile("tools/guest_image/LinuxBootFiles/vmlinux")).parent_path();
  std::string uvmboot = HcsFakeDaemon::runfile("tools/uvmboot/uvmboot");
  std::string trivial = trivialInitrd(dir);
  int code = 0;

  // 1. Boot, alternating floor and ours.
  std::vector<double> floor, ours;
  for (int i = 0; i < iterations; ++i) {
    Run f = run(*rt, {"qemu-system-x86_64", "-machine", "pc,accel=tcg", "-m", "512M", "-nodefaults", "-no-user-config",
                      "-display", "none", "-no-reboot", "-kernel", boot + "/vmlinux", "-initrd", trivial, "-append",
                      "panic=-1 quiet"},
                false);
    if (f.exitCode == 0) floor.push_back(f.ms);
    Run u = run(*rt, {uvmboot, "lcow", "--backend", "qemu", "--exec", "true"});
    auto at = u.out.find("booted in ");
    if (u.exitCode == 0 && at != std::string::npos) {
      ours.push_back(std::atof(u.out.c_str() + at + 10));
    } else {
      std::fprintf(stderr, "qemubench: uvmboot failed: %s\n", u.out.c_str());
      code = 1;
    }
  }
  std::printf("boot, median of %lld: HCS Start -> negotiated %.0f ms; QEMU + same kernel to a trivial /init "
              "(and power off) %.0f ms; ratio %.2f\n",
              static_cast<long long>(iterations), median(ours), median(floor),
              median(floor) > 0 ? median(ours) / median(floor) : 0);

  // 2. Memory of one idle UVM.
  runtime::ProcessSpec idle{.path = uvmboot, .args = {uvmboot, "lcow", "--backend", "qemu", "--exec", "sleep 8"}};
  idle.stdoutMode = runtime::StdioMode::kNull;
  auto p = rt->processes().spawn(idle);
  uint64_t qemuPss = 0, devPss = 0;
  if (p.ok()) {
    for (int i = 0; i < 300 && qemuPss == 0; ++i) {
      usleep(50000);
      auto q = pidsWith({"qemu-system", "uvmboot-"});
      auto d = pidsWith({"vhost-user-vsock", "/tmp/uvmboot-"});
      if (q.size() == 1 && d.size() == 1 && i > 100) {  // booted a while ago: the guest is idle in its sleep
        qemuPss = pssKiB(q[0]);
        devPss = pssKiB(d[0]);
      }
    }
    (void)runtime::blockOn(rt->loop(), (*p)->wait());
  }
  std::printf("memory per idle UVM (512 MiB, initrd guest): QEMU PSS %.1f MiB + vhost-user-vsock PSS %.1f MiB = %.1f MiB\n",
              qemuPss / 1024.0, devPss / 1024.0, (qemuPss + devPss) / 1024.0);

  // 3. Streams.
  Throughput t = streams(*rt, dir, boot, static_cast<int>(megabytes));
  if (!t.error.empty()) {
    std::fprintf(stderr, "qemubench: streams: %s\n", t.error.c_str());
    code = 1;
  }
  std::printf("guest -> host stream, %lld MiB of dd: vhost-user-vsock %.1f MiB/s; virtio-serial %.1f MiB/s; ratio %.2f\n",
              static_cast<long long>(megabytes), t.vsockMBps, t.serialMBps,
              t.serialMBps > 0 ? t.vsockMBps / t.serialMBps : 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return code;
}
