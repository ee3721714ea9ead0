// uvmboot: boots Linux utility VMs through HCS and runs a command in each.
//
//   uvmboot lcow [--count N] [--parallel P] [--exec CMD] [--mount-scsi FILE]...
//                [--share DIR]... [--boot-files-path DIR] [--memory MB]
//                [--processors N] [--address unix:///.../hcs.sock] [--backend sim|qemu] [-debug]
//   uvmboot bench [--iterations N] [...the same HCS options]
//       create->ready p50, 16 VMs booted at once (time, peak memory), and a
//       container's create+start+wait of `true` in a UVM vs bare `runc run`.
//
// Talks to the HCS at --address (default: the fake HCS's default socket).
// If nothing answers there it runs its own hcs_fake daemon (sim VM backend)
// for the duration, in a temporary directory it removes afterwards, with the
// VM backend --backend names (default sim; qemu when HCS_BACKEND=qemu). For each
// VM it prints the boot time (create -> negotiated guest connection), the
// command's output and its exit code; it exits non-zero if any VM failed.
// Under the sim backend the boot files are validated but not executed (the
// guest is the gcs binary); without --boot-files-path placeholders are used.
// Under qemu they are booted; the default is the guest image
// (tools/guest_image:boot_files) from uvmboot's runfiles.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "functional/harness/gcs_guest.h"
#include "functional/harness/hcs_fake_daemon.h"
#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/hybrid_vsock.h"
#include "src/common/flags.h"
#include "src/runtime/read_file.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"
#include "src/uvm/uvm.h"
#include "tools/uvmboot/result.h"

namespace {

using namespace hcsshim;
using runtime::Task;
namespace fs = std::filesystem;

struct Args {
  int count = 1;
  int parallel = 1;
  std::string exec;
  std::vector<std::string> scsi, shares;
  std::string bootFiles, address;
  uint64_t memoryMB = 512;
  uint32_t processors = 1;
};

int usage() {
  std::fprintf(stderr,
               "usage: uvmboot lcow [--count N] [--parallel P] [--exec CMD] [--mount-scsi FILE]... [--share DIR]...\n"
               "                    [--boot-files-path DIR] [--memory MB] [--processors N] [--address ADDR] [-debug]\n"
               "       uvmboot bench [--iterations N] [HCS options as above]\n");
  return 2;
}

using uvmboot::Result;

// runOne boots one VM, attaches devices, runs the command, closes the VM.
Task<Result> runOne(runtime::Runtime& rt, hcs::HcsApi& hcs, std::string vsockRoot, Args args, int index) {
  Result r;
  r.id = "uvmboot-" + std::to_string(getpid()) + "-" + std::to_string(index);
  uvm::LcowOptions o{.id = r.id, .bootFilesPath = args.bootFiles, .memoryMB = args.memoryMB,
                     .processors = args.processors};
  auto vsock = std::make_unique<platforms::HybridVsockHost>(rt.transport(), platforms::hybridVsockPath(vsockRoot, r.id));
  auto t0 = rt.loop().now();
  auto vm = co_await uvm::UtilityVM::create(rt, hcs, std::move(vsock), o);
  if (!vm.ok()) {
    r.status = vm.status();
    co_return r;
  }
  r.status = co_await (*vm)->start();
  r.bootMs = std::chrono::duration<double, std::milli>(rt.loop().now() - t0).count();
  std::string script = args.exec;
  for (size_t i = 0; r.status.ok() && i < args.scsi.size(); ++i) {
    auto d = co_await (*vm)->addScsi(fs::absolute(args.scsi[i]).string(), true);
    if (!d.ok()) {
      r.status = d.status();
    } else {
      r.output += "scsi " + args.scsi[i] + " at " + d->guestPath + "\n";
    }
  }
  for (size_t i = 0; r.status.ok() && i < args.shares.size(); ++i) {
    auto g = co_await (*vm)->addPlan9(fs::absolute(args.shares[i]).string(), false);
    if (!g.ok()) {
      r.status = g.status();
    } else {
      r.output += "share " + args.shares[i] + " at " + *g + "\n";
    }
  }
  if (r.status.ok() && !script.empty()) {
    bridge::ProcessParameters pp;
    pp.commandArgs = {"/bin/sh", "-c", script};
    bridge::StdioRequest stdio{.out = true, .err = true};
    auto p = co_await (*vm)->exec(pp, stdio);
    if (!p.ok()) {
      r.status = p.status();
    } else {
      auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
      auto err = co_await runtime::readToEnd(*(*p)->stderrStream());
      if (out.ok()) r.output += *out;
      if (err.ok()) r.output += *err;
      auto code = co_await (*p)->wait();
      if (code.ok()) r.exitCode = static_cast<int>(*code);
      if (!code.ok()) r.status = code.status();
    }
  }
  Status closed = co_await (*vm)->close();
  if (r.status.ok()) r.status = closed;
  co_return r;
}

Task<int> runAll(runtime::Runtime& rt, hcs::HcsApi& hcs, std::string vsockRoot, Args args) {
  std::vector<Result> results(static_cast<size_t>(args.count));
  int next = 0, running = 0, done = 0;
  runtime::WaitList changed;
  auto t0 = rt.loop().now();
  while (done < args.count) {
    while (running < args.parallel && next < args.count) {
      int i = next++;
      ++running;
      runtime::spawn([](runtime::Runtime& rt, hcs::HcsApi& hcs, std::string root, Args args, int i, Result& out, int& running,
                        int& done, runtime::WaitList& changed) -> Task<void> {
        out = co_await runOne(rt, hcs, root, args, i);
        --running;
        ++done;
        changed.notifyAll();
      }(rt, hcs, vsockRoot, args, i, results[static_cast<size_t>(i)], running, done, changed));
    }
    if (done < args.count) co_await changed.wait();
  }
  double totalMs = std::chrono::duration<double, std::milli>(rt.loop().now() - t0).count();
  int failed = 0;
  for (auto& r : results) failed += uvmboot::print(r, !args.exec.empty()) ? 1 : 0;
  std::printf("%d VMs (%d at a time) in %.1f ms, %d failed\n", args.count, args.parallel, totalMs, failed);
  co_return failed ? 1 : 0;
}

// ---- bench ----

double msSince(runtime::Runtime& rt, runtime::TimePoint t0) {
  return std::chrono::duration<double, std::milli>(rt.loop().now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// rssKiB: resident memory of every process whose command line mentions `needle`.
uint64_t rssKiB(const std::string& needle) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    std::string line = runtime::readFile(std::string(p.path() / "cmdline")).value_or("");
    if (line.find(needle) == std::string::npos) continue;
    std::ifstream status(p.path() / "status");
    std::string key;
    while (status >> key) {
      if (key == "VmRSS:") {
        uint64_t kb = 0;
        status >> kb;
        total += kb;
        break;
      }
      status.ignore(1 << 12, '\n');
    }
  }
  return total;
}

Task<StatusOr<std::unique_ptr<uvm::UtilityVM>>> bootVm(runtime::Runtime& rt, hcs::HcsApi& hcs, std::string vsockRoot,
                                                       Args args, std::string id) {
  uvm::LcowOptions o{.id = id, .bootFilesPath = args.bootFiles, .memoryMB = args.memoryMB, .processors = args.processors};
  auto vsock = std::make_unique<platforms::HybridVsockHost>(rt.transport(), platforms::hybridVsockPath(vsockRoot, id));
  auto vm = co_await uvm::UtilityVM::create(rt, hcs, std::move(vsock), o);
  if (!vm.ok()) co_return vm.status();
  Status st = co_await (*vm)->start();
  if (!st.ok()) co_return st;
  co_return vm;
}

Task<int> bench(runtime::Runtime& rt, hcs::HcsApi& hcs, std::string vsockRoot, Args args, int iterations,
                std::string workDir) {
  // 1. create -> ready, one at a time.
  std::vector<double> boots;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = rt.loop().now();
    auto vm = co_await bootVm(rt, hcs, vsockRoot, args, "bench-seq-" + std::to_string(i));
    if (!vm.ok()) {
      std::fprintf(stderr, "uvmboot: %s\n", vm.status().toString().c_str());
      co_return 1;
    }
    boots.push_back(msSince(rt, t0));
    (void)co_await (*vm)->close();
  }
  std::sort(boots.begin(), boots.end());
  std::printf("UVM create -> ready (negotiated), sequential: p50 %.1f ms, p90 %.1f ms over %d\n", median(boots),
              boots[boots.size() * 9 / 10], iterations);

  // 2. 16 at once.
  std::vector<std::unique_ptr<uvm::UtilityVM>> vms(16);
  int done = 0, failed = 0;
  runtime::WaitList changed;
  uint64_t before = rssKiB(vsockRoot);
  auto t0 = rt.loop().now();
  for (int i = 0; i < 16; ++i) {
    runtime::spawn([](runtime::Runtime& rt, hcs::HcsApi& hcs, std::string root, Args args, int i,
                      std::unique_ptr<uvm::UtilityVM>& out, int& done, int& failed,
                      runtime::WaitList& changed) -> Task<void> {
      auto vm = co_await bootVm(rt, hcs, root, args, "bench-par-" + std::to_string(i));
      if (vm.ok()) {
        out = std::move(*vm);
      } else {
        ++failed;
      }
      ++done;
      changed.notifyAll();
    }(rt, hcs, vsockRoot, args, i, vms[static_cast<size_t>(i)], done, failed, changed));
  }
  while (done < 16) co_await changed.wait();
  double total = msSince(rt, t0);
  uint64_t guests = rssKiB(vsockRoot) - before;
  std::printf("16 UVMs booted in parallel: %.1f ms total, %d failed; guest agents' RSS %.1f MiB (%.2f MiB each)\n", total,
              failed, static_cast<double>(guests) / 1024, static_cast<double>(guests) / 1024 / 16);
  for (auto& vm : vms) {
    if (vm) (void)co_await vm->close();
  }

  // 3. A container in a UVM vs bare runc, same busybox layer and spec.
  auto layer = functional::makeBusyboxLayer(rt, workDir);
  auto spec = functional::runcSpec(rt, workDir, "/", {"true"});
  if (!layer.ok() || !spec.ok()) {
    std::fprintf(stderr, "uvmboot: preparing the container: %s\n",
                 (layer.ok() ? spec.status() : layer.status()).toString().c_str());
    co_return 1;
  }
  auto vm = co_await bootVm(rt, hcs, vsockRoot, args, "bench-ctr");
  if (!vm.ok()) co_return 1;
  std::vector<double> inUvm, bare;
  std::string runcRoot = workDir + "/bare-runc";
  fs::create_directories(runcRoot);
  for (int i = 0; i < iterations; ++i) {
    auto t1 = rt.loop().now();
    std::vector<std::string> layers = {*layer};
    auto c = co_await (*vm)->createContainer("c" + std::to_string(i), layers, *spec);
    if (!c.ok()) {
      std::fprintf(stderr, "uvmboot: %s\n", c.status().toString().c_str());
      co_return 1;
    }
    bridge::ProcessParameters init;
    bridge::StdioRequest none;
    auto p = co_await (*c)->start(init, none);
    if (p.ok()) (void)co_await (*p)->wait();
    (void)co_await (*c)->remove();
    inUvm.push_back(msSince(rt, t1));

    std::string id = "bare" + std::to_string(i), bundle = workDir + "/bundles/" + id;
    auto t2 = rt.loop().now();
    fs::create_directories(bundle + "/rootfs");
    fs::create_directories(bundle + "/scratch/upper");
    fs::create_directories(bundle + "/scratch/work");
    runtime::ProcessSpec mountSpec{.path = "mount", .args = {"mount", "-t", "overlay", "overlay", "-o",
                                                              "lowerdir=" + *layer + ",upperdir=" + bundle +
                                                                  "/scratch/upper,workdir=" + bundle + "/scratch/work",
                                                              bundle + "/rootfs"}};
    auto m = rt.processes().spawn(mountSpec);
    if (m.ok()) (void)co_await (*m)->wait();
    Json s = *spec;
    s["root"]["path"] = bundle + "/rootfs";
    s["linux"]["cgroupsPath"] = "/uvmboot-bench/" + id;
    std::ofstream(bundle + "/config.json") << s.dump();
    runtime::ProcessSpec runSpec{.path = "runc", .args = {"runc", "--root", runcRoot, "run", "--bundle", bundle, id}};
    runSpec.stdinMode = runtime::StdioMode::kNull;
    runSpec.stdoutMode = runtime::StdioMode::kNull;
    auto r = rt.processes().spawn(runSpec);
    if (r.ok()) (void)co_await (*r)->wait();
    runtime::ProcessSpec umountSpec{.path = "umount", .args = {"umount", bundle + "/rootfs"}};
    auto u = rt.processes().spawn(umountSpec);
    if (u.ok()) (void)co_await (*u)->wait();
    bare.push_back(msSince(rt, t2));
  }
  (void)co_await (*vm)->close();
  std::error_code ec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) ::rmdir((h.path() / "uvmboot-bench").c_str());
  double a = median(inUvm), b = median(bare);
  std::printf("container create+start+wait of `true` (median of %d): in a sim UVM %.1f ms, bare runc run %.1f ms, "
              "ratio %.2f\n",
              iterations, a, b, a / b);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (std::string(argv[1]) != "lcow" && std::string(argv[1]) != "bench")) return usage();
  bool benchMode = std::string(argv[1]) == "bench";
  int64_t iterations = 20, count = 1, parallel = 1, memory = 512, processors = 1;
  bool debug = false;
  Args args;
  args.address = platforms::defaultHcsAddress();
  FlagSet flags("uvmboot");
  flags.integer("count", &count, "VMs to boot");
  flags.integer("parallel", &parallel, "VMs booting at once");
  flags.string("exec", &args.exec, "a command to run in each VM");
  flags.strings("mount-scsi", &args.scsi, "a disk image to attach (repeatable)");
  flags.strings("share", &args.shares, "a directory to share, writable (repeatable)");
  flags.string("boot-files-path", &args.bootFiles, "the kernel and initrd.img");
  flags.integer("memory", &memory, "MB per VM");
  flags.integer("processors", &processors, "vCPUs per VM");
  flags.string("address", &args.address, "the HCS (fake) daemon's socket");
  std::string backend = getenv("HCS_BACKEND") && std::string(getenv("HCS_BACKEND")) == "qemu" ? "qemu" : "sim";
  flags.string("backend", &backend, "the VM backend of the fake HCS uvmboot starts: sim (default) or qemu");
  flags.integer("iterations", &iterations, "boots to time (bench)");
  flags.boolean("debug", &debug, "log debug events");
  auto parsed = flags.parse(argc - 1, argv + 1);
  if (!parsed.ok() || !parsed->empty() || count < 1 || parallel < 1 || memory < 1 || processors < 1 || iterations < 1) {
    if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
    return usage();
  }
  args.count = static_cast<int>(count);
  args.parallel = static_cast<int>(parallel);
  args.memoryMB = static_cast<uint64_t>(memory);
  args.processors = static_cast<uint32_t>(processors);
  if (debug) log::setLevel(LogLevel::kDebug);
  if (!getenv("UVMBOOT_DEBUG") && log::level() != LogLevel::kDebug) log::setLevel(LogLevel::kWarn);
  auto rt = runtime::RealRuntime::create("uvmboot");
  if (!rt.ok()) return 1;
  std::string tmp;
  std::unique_ptr<functional::HcsFakeDaemon> daemon;
  // No HCS at the address: run our own fake for the duration.
  auto probe = runtime::blockOn((*rt)->loop(), (*rt)->transport().connect(args.address));
  if (!probe.ok()) {
    char tmpl[] = "/tmp/uvmboot-XXXXXX";
    tmp = mkdtemp(tmpl);
    std::vector<std::string> daemonArgs;
    if (log::level() != LogLevel::kDebug) daemonArgs.push_back("-quiet");
    daemonArgs.push_back("--vm-backend=" + backend);
    auto d = functional::HcsFakeDaemon::start(**rt, tmp, daemonArgs);
    if (!d.ok()) {
      std::fprintf(stderr, "uvmboot: no HCS at %s and starting one failed: %s\n", args.address.c_str(),
                   d.status().toString().c_str());
      return 1;
    }
    daemon = std::move(*d);
    args.address = daemon->address();
    std::printf("no HCS at the default address: started a fake HCS (pid %d) for this run\n", daemon->pid());
  } else {
    (*probe)->close();
  }
  if (args.bootFiles.empty() && backend == "qemu") {
    args.bootFiles = fs::path(functional::HcsFakeDaemon::runfile("tools/guest_image/LinuxBootFiles/vmlinux")).parent_path();
  }
  if (args.bootFiles.empty() || (benchMode && backend != "qemu")) {
    if (tmp.empty()) {
      char tmpl[] = "/tmp/uvmboot-XXXXXX";
      tmp = mkdtemp(tmpl);
    }
    if (args.bootFiles.empty()) args.bootFiles = tmp + "/boot";
    fs::create_directories(args.bootFiles);
    std::ofstream(args.bootFiles + "/vmlinux") << "placeholder: the sim backend's guest is the gcs binary\n";
    std::ofstream(args.bootFiles + "/initrd.img") << "placeholder: the sim backend's guest is the gcs binary\n";
  }
  int code = 1;
  {
    auto api = runtime::blockOn((*rt)->loop(), platforms::DaemonHcs::connect(**rt, args.address));
    if (!api.ok()) {
      std::fprintf(stderr, "uvmboot: %s\n", api.status().toString().c_str());
    } else {
      if (benchMode) {
        code = runtime::blockOn((*rt)->loop(), bench(**rt, **api, platforms::vsockRootFor(args.address), args,
                                                     iterations, tmp));
      } else {
        code = runtime::blockOn((*rt)->loop(), runAll(**rt, **api, platforms::vsockRootFor(args.address), args));
      }
    }
  }
  if (daemon && daemon->stop() != 0) code = code ? code : 1;
  daemon.reset();
  if (!tmp.empty()) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }
  runtime::drain((*rt)->loop());
  return code;
}
