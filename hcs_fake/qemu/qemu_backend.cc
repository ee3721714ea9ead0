#include "hcs_fake/qemu/qemu_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "hcs_fake/qemu/plan9.h"
#include "hcs_fake/qemu/qmp.h"
#include "hcs_fake/sim_backend.h"
#include "platforms/linux/hybrid_vsock.h"
#include "src/common/log.h"
#include "src/common/sha256.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

struct QemuVmBackend::Vm {
  std::unique_ptr<runtime::Process> qemu, vsock;
  std::shared_ptr<QmpClient> qmp;
  bool stopping = false, exited = false;
  runtime::ExitStatus exit;
  std::string shutdownReason;  // the last SHUTDOWN event's reason
  std::string stderrTail;      // QEMU's last words
  runtime::WaitList exitedChanged;
  std::map<std::pair<int, int>, std::string> disks;  // (controller, lun) -> path
  std::map<int, std::unique_ptr<Plan9Server>> plan9;  // vsock port -> its server
  std::map<uint32_t, std::string> pmem;  // device number -> image (plugged for good: virtio-pmem does not unplug)
  struct Nic {
    std::string tap, bridge;
  };
  std::map<std::string, Nic> nics;  // adapter id -> its tap and bridge
};

namespace {

Status invalid(const std::string& id, const std::string& field, const std::string& why) {
  return Status::fromHResult(hr::kInvalidArg, "Start", id, field + ": " + why + " (qemu backend)");
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool endsWithVhd(const std::string& p) { return lower(p).ends_with(".vhd"); }

// blockdev: a raw view of an image; a fixed VHD is raw data plus a 512-byte footer.
StatusOr<Json> blockdev(const std::string& node, const std::string& path, bool readOnly) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) return NotFoundError(path + ": " + ec.message());
  Json b = {{"node-name", node},
            {"driver", "raw"},
            {"read-only", readOnly},
            {"file", {{"driver", "file"}, {"filename", path}, {"read-only", readOnly}}}};
  if (endsWithVhd(path)) {
    if (size < 1024) return InvalidArgumentError(path + ": too small for a VHD");
    b["size"] = size - 512;
  }
  return b;
}

// Memory slots QEMU gets for VPMem devices: vhost-user maps at most 8
// regions, the RAM and 7 more.
constexpr size_t kPmemSlots = 7;

// parseNumber: a decimal below `limit`, nothing else (resource paths and
// document keys come from the client).
bool parseNumber(const std::string& text, uint32_t limit, uint32_t* out) {
  if (text.empty() || text.size() > 6) return false;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v >= limit) return false;
  *out = v;
  return true;
}
bool parsePmemNumber(const std::string& text, uint32_t* out) { return parseNumber(text, 128, out); }

// pmemImageSize: the bytes of `path` a virtio-pmem device maps - the file
// (a VHD without its 512-byte footer), which must be a multiple of 2 MiB:
// the device is a memory region. `field` names the document field.
StatusOr<uint64_t> pmemImageSize(const std::string& op, const std::string& id, const std::string& field,
                                 const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) return Status::fromHResult(hr::kFileNotFound, op, id, field + ": " + path + ": " + ec.message());
  if (endsWithVhd(path) && size >= 512) size -= 512;
  constexpr uint64_t kAlign = 2 << 20;
  if (size == 0 || size % kAlign) {
    return Status::fromHResult(hr::kInvalidArg, op, id,
                               field + ": " + path + " is " + std::to_string(size) +
                                   " bytes; a virtio-pmem image must be a multiple of 2 MiB (qemu backend)");
  }
  return size;
}

int controllerIndex(const std::string& key, int position) {
  int c = lcowScsiControllerIndex(key);
  return c >= 0 ? c : position;
}

}  // namespace

std::string findVsockDevice(const std::string& argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv0;
  std::vector<fs::path> candidates = {
      fs::path(self.string() + ".runfiles") / "hcsshim_cpp/sim/vsock/vhost-user-vsock",
      self.parent_path().parent_path() / "sim/vsock/vhost-user-vsock",
      self.parent_path() / "vhost-user-vsock",
  };
  if (const char* runfiles = std::getenv("TEST_SRCDIR")) {
    candidates.insert(candidates.begin(), fs::path(runfiles) / "hcsshim_cpp/sim/vsock/vhost-user-vsock");
  }
  for (auto& c : candidates) {
    if (fs::exists(c, ec)) return c.string();
  }
  return "vhost-user-vsock";
}

std::string qemuKernelCommandLine(const std::string& hcsCmdline) {
  // Before "--" are kernel options; after it, init's arguments (untouched).
  size_t dashes = hcsCmdline.find(" -- ");
  std::string kernel = hcsCmdline.substr(0, dashes), rest = dashes == std::string::npos ? "" : hcsCmdline.substr(dashes);
  std::string out = kQemuKernelOptions;
  size_t start = 0;
  while (start <= kernel.size()) {
    size_t end = kernel.find(' ', start);
    if (end == std::string::npos) end = kernel.size();
    std::string word = kernel.substr(start, end - start);
    if (!word.empty() && word != "pci=off" && word != "initcall_blacklist=virtio_vsock_init") {
      out += (out.empty() ? "" : " ") + word;
    }
    start = end + 1;
  }
  return out + rest;
}

StatusOr<std::vector<std::string>> qemuCommandLine(const QemuMachine& m, const schema::VirtualMachine& vm,
                                                   const std::string& qemuPath) {
  if (!vm.chipset || !vm.chipset->linuxKernelDirect) {
    return invalid(m.id, "VirtualMachine.Chipset.LinuxKernelDirect", "required: UEFI boot is not supported");
  }
  const auto& k = *vm.chipset->linuxKernelDirect;
  if (!k.kernelFilePath || k.kernelFilePath->empty()) {
    return invalid(m.id, "VirtualMachine.Chipset.LinuxKernelDirect.KernelFilePath", "required");
  }
  uint64_t memoryMB = 0;
  uint32_t cpus = 1;
  if (vm.computeTopology && vm.computeTopology->memory) memoryMB = vm.computeTopology->memory->sizeInMB.value_or(0);
  if (vm.computeTopology && vm.computeTopology->processor) cpus = vm.computeTopology->processor->count.value_or(1);
  if (memoryMB < 64 || memoryMB > (1u << 20)) {
    return invalid(m.id, "VirtualMachine.ComputeTopology.Memory.SizeInMB", std::to_string(memoryMB) + " is outside 64..1048576");
  }
  if (cpus < 1 || cpus > 64) {
    return invalid(m.id, "VirtualMachine.ComputeTopology.Processor.Count", std::to_string(cpus) + " is outside 1..64");
  }
  std::string mem = std::to_string(memoryMB) + "M";
  // Memory slots for VPMem (vhost-user maps at most 8 regions: RAM + 7).
  std::string memSpec = mem + ",slots=" + std::to_string(kPmemSlots) + ",maxmem=" + std::to_string(memoryMB + 64 * 1024) + "M";
  std::vector<std::string> a = {
      qemuPath, "-name", m.id, "-machine", "pc,accel=" + m.accel + ",memory-backend=mem0", "-m", memSpec, "-smp",
      std::to_string(cpus), "-object", "memory-backend-memfd,id=mem0,size=" + mem + ",share=on", "-kernel",
      *k.kernelFilePath, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial",
      "file:" + m.dir + "/serial.log", "-chardev", "socket,id=vsock0,path=" + m.dir + "/vhost.sock", "-device",
      "vhost-user-vsock-pci,chardev=vsock0", "-qmp", "unix:" + m.dir + "/qmp.sock,server=on,wait=off"};
  if (k.initRdPath && !k.initRdPath->empty()) {
    a.push_back("-initrd");
    a.push_back(*k.initRdPath);
  }
  if (k.kernelCmdLine && !k.kernelCmdLine->empty()) {
    a.push_back("-append");
    a.push_back(qemuKernelCommandLine(*k.kernelCmdLine));
  }
  if (vm.devices) {
    int position = 0;
    std::vector<bool> used(4, false);
    for (const auto& [key, scsi] : vm.devices->scsi) {
      int c = controllerIndex(key, position++);
      if (c > 3 || used[c]) {
        return invalid(m.id, "VirtualMachine.Devices.Scsi." + key, "at most 4 controllers, each once");
      }
      used[c] = true;
      char addr[8];
      std::snprintf(addr, sizeof addr, "0x%x", 0x10 + c);
      a.push_back("-device");
      a.push_back("virtio-scsi-pci,id=scsi" + std::to_string(c) + ",addr=" + addr);
      for (const auto& [lun, att] : scsi.attachments) {
        std::string field = "VirtualMachine.Devices.Scsi." + key + ".Attachments." + lun;
        if (!att.path) return invalid(m.id, field + ".Path", "required");
        bool ro = att.readOnly.value_or(false);
        std::string node = "scsi" + std::to_string(c) + "-" + lun;
        std::string raw = "driver=raw,node-name=" + node + ",read-only=" + (ro ? "on" : "off") +
                          ",file.driver=file,file.filename=" + *att.path;
        if (endsWithVhd(*att.path)) {
          std::error_code ec;
          uint64_t size = fs::file_size(*att.path, ec);
          if (ec || size < 1024) return invalid(m.id, field + ".Path", "not a readable VHD: " + *att.path);
          raw += ",size=" + std::to_string(size - 512);
        }
        a.insert(a.end(), {"-blockdev", raw, "-device",
                           "scsi-hd,bus=scsi" + std::to_string(c) + ".0,channel=0,scsi-id=0,lun=" + lun + ",drive=" + node});
      }
    }
    // NICs and Plan9 shares come after the start (hcsshim adds an LCOW VM's
    // endpoints and shares to the running VM); in the document they are
    // refused rather than left out.
    if (!vm.devices->networkAdapters.empty()) {
      return Status::fromHResult(hr::kNotImpl, "Start", m.id,
                                 "VirtualMachine.Devices.NetworkAdapters: the qemu backend adds NICs to a running VM only");
    }
    if (vm.devices->plan9 && !vm.devices->plan9->shares.empty()) {
      return Status::fromHResult(hr::kNotImpl, "Start", m.id,
                                 "VirtualMachine.Devices.Plan9.Shares: the qemu backend adds shares to a running VM only");
    }
    // VPMem devices present from the start: the same virtio-pmem devices a
    // hot add makes, on the command line.
    if (vm.devices->virtualPMem) {
      for (const auto& [key, dev] : vm.devices->virtualPMem->devices) {
        std::string field = "VirtualMachine.Devices.VirtualPMem.Devices." + key;
        uint32_t n = 0;
        if (!parsePmemNumber(key, &n)) return invalid(m.id, field, "the key is not a device number 0..127");
        if (!dev.hostPath || dev.hostPath->empty()) return invalid(m.id, field + ".HostPath", "required");
        if (dev.readOnly.has_value() && !*dev.readOnly) {
          return invalid(m.id, field + ".ReadOnly", "VPMem devices are read-only");
        }
        auto size = pmemImageSize("Start", m.id, field + ".HostPath", *dev.hostPath);
        if (!size.ok()) return size.status();
        a.insert(a.end(), {"-object", "memory-backend-file,id=pm" + key + ",mem-path=" + *dev.hostPath +
                                          ",size=" + std::to_string(*size) + ",share=on,readonly=on",
                           "-device", "virtio-pmem-pci,id=vp" + key + ",memdev=pm" + key});
      }
      if (vm.devices->virtualPMem->devices.size() > kPmemSlots) {
        return invalid(m.id, "VirtualMachine.Devices.VirtualPMem.Devices",
                       std::to_string(vm.devices->virtualPMem->devices.size()) + " devices; the qemu backend has " +
                           std::to_string(kPmemSlots) + " memory slots");
      }
    }
  }
  return a;
}

QemuVmBackend::QemuVmBackend(runtime::Runtime& rt, QemuBackendOptions options)
    : rt_(rt), options_(std::move(options)), bridges_(rt, options_.ipPath, options_.nftPath, options_.natTable) {}

QemuVmBackend::~QemuVmBackend() {
  for (auto& [id, vm] : vms_) {
    vm->stopping = true;
    if (vm->qmp) vm->qmp->close();
    if (vm->qemu && !vm->qemu->exitStatus()) (void)vm->qemu->signal(SIGKILL);
    if (vm->vsock && !vm->vsock->exitStatus()) (void)vm->vsock->signal(SIGKILL);
    cleanup(id, *vm);
  }
  std::error_code ec;
  fs::remove(options_.vmRoot, ec);  // empty by now
}

std::string QemuVmBackend::vmDir(const std::string& id) const {
  return options_.vmRoot + "/" + sha256Hex(id).substr(0, 16);
}

int QemuVmBackend::qemuPid(const std::string& id) const {
  auto it = vms_.find(id);
  return it == vms_.end() || !it->second->qemu ? 0 : it->second->qemu->pid();
}

// accelerator: KVM only when a guest actually runs on it - /dev/kvm can
// exist and accept KVM_CREATE_VM while vCPUs never make progress. The probe
// boots the VM's kernel without an initrd: it panics at once and
// -no-reboot ends QEMU, well within the 5 s it is given under working KVM.
// The answer holds for the boot of the host: it is kept in
// /run/hcsshim-cpp/kvm-probe.<boot id>.
Task<std::string> QemuVmBackend::accelerator(const std::string& kernel) {
  if (options_.accel != "auto") co_return options_.accel;
  if (!probedAccel_.empty()) co_return probedAccel_;
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) co_return probedAccel_ = "tcg";
  ::close(fd);
  std::string bootId;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> bootId;
  std::string cache = "/run/hcsshim-cpp/kvm-probe." + bootId;
  std::string cached;
  if (!bootId.empty() && (std::ifstream(cache) >> cached) && (cached == "kvm" || cached == "tcg")) {
    co_return probedAccel_ = cached;
  }
  auto probe = rt_.processes().spawn(runtime::ProcessSpec{
      .path = options_.qemuPath,
      .args = {options_.qemuPath, "-machine", "pc,accel=kvm", "-m", "128M", "-nodefaults", "-no-user-config",
               "-display", "none", "-no-reboot", "-kernel", kernel, "-append", "panic=-1 quiet"},
      .stdoutMode = runtime::StdioMode::kNull,
      .stderrMode = runtime::StdioMode::kNull,
      .killOnParentDeath = true});
  std::string result = "tcg";
  if (probe.ok()) {
    auto& p = *probe;
    bool done = false;
    runtime::spawn([](runtime::Process& p, bool& done) -> Task<void> {
      (void)co_await p.wait();
      done = true;
    }(*p, done));
    for (int i = 0; i < 100 && !done; ++i) co_await runtime::sleep(rt_.loop(), std::chrono::milliseconds(50));
    if (done && p->exitStatus() && p->exitStatus()->exitCode == 0) result = "kvm";
    if (!done) (void)p->signal(SIGKILL);
    while (!done) co_await runtime::sleep(rt_.loop(), std::chrono::milliseconds(10));
  }
  std::error_code ec;
  fs::create_directories("/run/hcsshim-cpp", ec);
  std::ofstream(cache) << result << "\n";
  HLOG(Info, "hcs_fake.qemu.kvm_probe").kv("accel", result);
  co_return probedAccel_ = result;
}

Task<Status> QemuVmBackend::start(const std::string& id, const schema::VirtualMachine& doc) {
  if (vms_.count(id)) co_return Status::fromHResult(hr::kHcsInvalidState, "Start", id, "the guest is already running");
  std::string dir = vmDir(id);
  std::string kernel = doc.chipset && doc.chipset->linuxKernelDirect
                           ? doc.chipset->linuxKernelDirect->kernelFilePath.value_or("")
                           : "";
  std::string accel = co_await accelerator(kernel);
  QemuMachine m{.id = id, .dir = dir, .hybridSocket = platforms::hybridVsockPath(options_.vsockRoot, id), .accel = accel};
  auto argv = qemuCommandLine(m, doc, options_.qemuPath);
  if (!argv.ok()) co_return argv.status();
  if (dir.size() + 16 > 107) {
    co_return Status::fromHResult(hr::kInvalidArg, "Start", id, "qemu backend: VM directory " + dir +
                                                                    " is too long for its unix sockets");
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  fs::create_directories(options_.vsockRoot, ec);
  if (ec) co_return Status::fromHResult(hr::kFail, "Start", id, "creating " + dir + ": " + ec.message());
  auto vm = std::make_shared<Vm>();
  auto fail = [&](Status st) {
    vm->stopping = true;
    if (vm->qemu) (void)vm->qemu->signal(SIGKILL);
    if (vm->vsock) (void)vm->vsock->signal(SIGKILL);
    cleanup(id, *vm);
    return st.withContext("Start", id);
  };
  // The device outlives a SIGKILLed fake HCS long enough to remove the VM's
  // files (QEMU, diod and the device die with the daemon).
  std::vector<std::string> devArgs = {options_.vsockDevicePath, "--socket", dir + "/vhost.sock", "--uds",
                                      m.hybridSocket, "--vm-dir", dir, "--remove-on-exit", m.hybridSocket,
                                      "--remove-on-exit", m.hybridSocket + "_564"};
  if (log::level() == LogLevel::kDebug) devArgs.push_back("-debug");
  if (log::level() >= LogLevel::kWarn) devArgs.push_back("-quiet");  // as quiet as the daemon
  auto dev = rt_.processes().spawn(
      runtime::ProcessSpec{.path = options_.vsockDevicePath, .args = devArgs, .killOnParentDeath = true});
  if (!dev.ok()) co_return fail(dev.status());
  vm->vsock = std::move(*dev);
  for (int i = 0; i < 500 && !fs::exists(dir + "/vhost.sock", ec); ++i) {
    if (vm->vsock->exitStatus()) break;
    co_await runtime::sleep(rt_.loop(), std::chrono::milliseconds(10));
  }
  if (!fs::exists(dir + "/vhost.sock", ec)) {
    co_return fail(Status::fromHResult(hr::kFail, "Start", id, "the vhost-user-vsock device did not start"));
  }
  auto qemu = rt_.processes().spawn(runtime::ProcessSpec{
      .path = options_.qemuPath, .args = *argv, .stderrMode = runtime::StdioMode::kPipe, .killOnParentDeath = true});
  if (!qemu.ok()) co_return fail(qemu.status());
  vm->qemu = std::move(*qemu);
  // QEMU's stderr: logged, and its tail kept for the exit's error.
  runtime::spawn([](std::shared_ptr<Vm> vm, std::string id) -> Task<void> {
    char buf[2048];
    for (;;) {
      auto n = co_await vm->qemu->stderrStream()->read(std::span<char>(buf, sizeof buf));
      if (!n.ok() || *n == 0) co_return;
      std::string text(buf, *n);
      vm->stderrTail += text;
      if (vm->stderrTail.size() > 1024) vm->stderrTail.erase(0, vm->stderrTail.size() - 1024);
      HLOG(Warn, "hcs_fake.qemu.stderr").kv("id", id).kv("text", text);
    }
  }(vm, id));
  // (Named, not a temporary in the co_await: GCC 12 destroys such temporaries twice.)
  std::function<bool()> qemuGone = [vm] { return vm->qemu->exitStatus().has_value(); };
  std::string qmpPath = dir + "/qmp.sock";
  auto qmp = co_await QmpClient::connect(rt_.loop(), rt_.transport(), qmpPath, std::chrono::seconds(10), qemuGone);
  if (!qmp.ok()) {
    std::string tail = vm->stderrTail;
    co_return fail(Status::fromHResult(hr::kFail, "Start", id, "QEMU did not come up: " + qmp.status().message() +
                                                                    (tail.empty() ? "" : " (" + tail + ")")));
  }
  vm->qmp = *qmp;
  if (doc.devices && doc.devices->virtualPMem) {  // the command line's devices (checked there)
    for (const auto& [key, dev] : doc.devices->virtualPMem->devices) {
      uint32_t n = 0;
      if (parsePmemNumber(key, &n)) vm->pmem[n] = dev.hostPath.value_or("");
    }
  }
  vm->qmp->setOnEvent([vm](const std::string& name, const Json& data) {
    if (name == "SHUTDOWN") vm->shutdownReason = data.value("reason", "");
  });
  vms_[id] = vm;
  runtime::spawn(watch(id, vm));
  HLOG(Info, "hcs_fake.qemu.vm_started").kv("id", id).kv("qemu_pid", vm->qemu->pid()).kv("vsock_pid", vm->vsock->pid())
      .kv("accel", accel).kv("qemu_version", vm->qmp->version());
  co_return OkStatus();
}

void QemuVmBackend::cleanup(const std::string& id, Vm& vm) {
  if (vm.qmp) vm.qmp->close();
  for (auto& [adapter, n] : vm.nics) bridges_.release(n.tap, n.bridge, /*deleteLink=*/false);  // taps go with QEMU
  vm.nics.clear();
  if (vm.vsock && !vm.vsock->exitStatus()) (void)vm.vsock->signal(SIGKILL);
  std::error_code ec;
  fs::remove_all(vmDir(id), ec);
  std::string prefix = fs::path(platforms::hybridVsockPath(options_.vsockRoot, id)).filename();
  for (const auto& e : fs::directory_iterator(options_.vsockRoot, ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) fs::remove(e.path(), ec);
  }
}

Task<void> QemuVmBackend::watch(std::string id, std::shared_ptr<Vm> vm) {
  runtime::ExitStatus st = co_await vm->qemu->wait();
  if (vm->vsock && !vm->vsock->exitStatus()) (void)vm->vsock->signal(SIGKILL);
  if (vm->vsock) (void)co_await vm->vsock->wait();
  vm->exited = true;
  vm->exit = st;
  bool poweredOff = st.exitCode == 0 && st.signal == 0 && vm->shutdownReason == "guest-shutdown";
  HLOG(Info, "hcs_fake.qemu.exited").kv("id", id).kv("exit_code", st.exitCode).kv("signal", st.signal)
      .kv("reason", vm->shutdownReason).kv("asked", vm->stopping);
  cleanup(id, *vm);
  auto it = vms_.find(id);
  if (it != vms_.end() && it->second == vm) vms_.erase(it);
  vm->exitedChanged.notifyAll();
  if (!vm->stopping && onExit_) onExit_(id, poweredOff ? hr::kOk : hr::kHcsUnexpectedExit);
}

Task<Status> QemuVmBackend::stop(const std::string& id, bool graceful) {
  auto it = vms_.find(id);
  if (it == vms_.end()) co_return OkStatus();
  std::shared_ptr<Vm> vm = it->second;
  vm->stopping = true;
  if (graceful) {
    (void)co_await vm->qmp->execute("cont");  // a paused guest must run to shut down
    auto r = co_await vm->qmp->execute("system_powerdown");
    bool late = false;
    auto timer = rt_.loop().addTimer(options_.gracefulStopTimeout, [vm, &late] {
      late = true;
      vm->exitedChanged.notifyAll();
    });
    while (r.ok() && !vm->exited && !late) co_await vm->exitedChanged.wait();
    rt_.loop().cancelTimer(timer);
    if (vm->exited && vm->shutdownReason != "guest-shutdown") {
      co_return Status::fromHResult(hr::kHcsUnexpectedExit, "Shutdown", id,
                                    "the guest " + (vm->shutdownReason.empty() ? std::string("died")
                                                                               : "ended with " + vm->shutdownReason) +
                                        " during the shutdown");
    }
  }
  if (!vm->exited) (void)vm->qemu->signal(SIGKILL);
  while (!vm->exited) co_await vm->exitedChanged.wait();
  co_return OkStatus();
}

Task<Status> QemuVmBackend::setRunning(const std::string& id, bool running) {
  const char* op = running ? "Resume" : "Pause";
  auto it = vms_.find(id);
  if (it == vms_.end()) co_return Status::fromHResult(hr::kHcsInvalidState, op, id, "the guest is not running");
  auto vm = it->second;
  auto r = co_await vm->qmp->execute(running ? "cont" : "stop");
  if (!r.ok()) co_return Status::fromHResult(hr::kFail, op, id, r.status().message());
  auto q = co_await vm->qmp->execute("query-status");
  if (!q.ok()) co_return Status::fromHResult(hr::kFail, op, id, q.status().message());
  if (q->value("running", !running) != running) {
    co_return Status::fromHResult(hr::kFail, op, id, "QEMU reports status " + q->value("status", std::string("?")));
  }
  co_return OkStatus();
}

Task<Status> QemuVmBackend::pause(const std::string& id) { return setRunning(id, false); }
Task<Status> QemuVmBackend::resume(const std::string& id) { return setRunning(id, true); }

Task<Status> QemuVmBackend::scsi(const std::string& id, Vm& vm, int c, int lun, const schema::ModifySettingRequest& r) {
  std::string node = "scsi" + std::to_string(c) + "-" + std::to_string(lun);
  std::string dev = "hd" + std::to_string(c) + "-" + std::to_string(lun);
  if (r.requestType.value_or("") == "Remove") {
    auto qmp = vm.qmp;
    Json delArgs = Json::object();
    delArgs["id"] = dev;
    auto del = co_await qmp->execute("device_del", delArgs);
    if (!del.ok()) co_return Status::fromHResult(hr::kFail, "Modify", id, del.status().message());
    auto gone = co_await qmp->waitEvent("DEVICE_DELETED", std::chrono::seconds(10));
    if (!gone.ok()) co_return Status::fromHResult(hr::kFail, "Modify", id, gone.status().message());
    Json bdArgs = Json::object();
    bdArgs["node-name"] = node;
    auto bd = co_await qmp->execute("blockdev-del", bdArgs);
    if (!bd.ok()) co_return Status::fromHResult(hr::kFail, "Modify", id, bd.status().message());
    vm.disks.erase({c, lun});
    co_return OkStatus();
  }
  std::string path = r.settings.value("Path", "");
  bool ro = r.settings.value("ReadOnly", false);
  auto b = blockdev(node, path, ro);
  if (!b.ok()) co_return Status::fromHResult(hr::kFileNotFound, "Modify", id, "Settings.Path: " + b.status().message());
  auto qmp = vm.qmp;
  auto add = co_await qmp->execute("blockdev-add", *b);
  if (!add.ok()) co_return Status::fromHResult(hr::kFail, "Modify", id, add.status().message());
  Json devArgs = Json::object();
  devArgs["driver"] = "scsi-hd";
  devArgs["id"] = dev;
  devArgs["bus"] = "scsi" + std::to_string(c) + ".0";
  devArgs["drive"] = node;
  devArgs["channel"] = 0;
  devArgs["scsi-id"] = 0;
  devArgs["lun"] = lun;
  auto d = co_await qmp->execute("device_add", devArgs);
  if (!d.ok()) {
    Json undo = Json::object();
    undo["node-name"] = node;
    (void)co_await qmp->execute("blockdev-del", undo);
    co_return Status::fromHResult(hr::kFail, "Modify", id, d.status().message());
  }
  vm.disks[{c, lun}] = path;
  co_return OkStatus();
}

Task<Status> QemuVmBackend::modify(const std::string& id, const schema::ModifySettingRequest& req) {
  if (!req.resourcePath) co_return OkStatus();  // guest requests travel over the guest connection
  auto it = vms_.find(id);
  if (it == vms_.end()) co_return OkStatus();  // not started: the document is all there is
  std::shared_ptr<Vm> vm = it->second;
  const std::string& path = *req.resourcePath;
  std::vector<std::string> parts;
  for (size_t s = 0, e; s <= path.size(); s = e + 1) {
    e = path.find('/', s);
    if (e == std::string::npos) e = path.size();
    parts.push_back(path.substr(s, e - s));
  }
  if (parts.size() == 6 && parts[2] == "Scsi" && parts[4] == "Attachments") {
    int c = lcowScsiControllerIndex(parts[3]);
    if (c < 0) co_return Status::fromHResult(hr::kElementNotFound, "Modify", id, "not an LCOW SCSI controller: " + parts[3]);
    uint32_t lun = 0;
    if (!parseNumber(parts[5], 64, &lun)) co_return Status::fromHResult(hr::kInvalidArg, "Modify", id, "LUN must be 0..63: " + parts[5]);
    co_return co_await scsi(id, *vm, c, static_cast<int>(lun), req);
  }
  if (path == "VirtualMachine/Devices/Plan9/Shares") co_return plan9(id, *vm, req);
  if (parts.size() == 5 && parts[2] == "VirtualPMem" && parts[3] == "Devices") {
    uint32_t n = 0;
    if (!parsePmemNumber(parts[4], &n)) co_return Status::fromHResult(hr::kInvalidArg, "Modify", id, "VPMem device number must be 0..127: " + parts[4]);
    co_return co_await vpmem(id, *vm, n, req);
  }
  if (parts.size() == 4 && parts[2] == "NetworkAdapters") co_return co_await nic(id, vm, parts[3], req);
  if (parts.size() >= 3 && (parts[2] == "VirtualPMem" || parts[2] == "NetworkAdapters")) {
    co_return Status::fromHResult(hr::kNotImpl, "Modify", id,
                                  path + ": the qemu backend does not provide this device yet");
  }
  co_return OkStatus();  // memory/processor updates, opaque devices
}

// vpmem: a read-only image as a virtio-pmem device (memory-backend-file).
// Its size must be a multiple of 2 MiB (a VHD's 512-byte footer aside): the
// device is a memory region. virtio-pmem cannot be unplugged: a Remove
// leaves the device in place (the guest has unmounted it) and the same image
// can be added again at that number; another image there is refused.
Task<Status> QemuVmBackend::vpmem(const std::string& id, Vm& vm, uint32_t n, const schema::ModifySettingRequest& r) {
  auto it = vm.pmem.find(n);
  if (r.requestType.value_or("") == "Remove") {
    if (it == vm.pmem.end()) co_return Status::fromHResult(hr::kElementNotFound, "Modify", id, "no VPMem device " + std::to_string(n));
    HLOG(Info, "hcs_fake.qemu.vpmem_kept").kv("id", id).kv("device", n).kv("reason", "virtio-pmem devices cannot be unplugged");
    co_return OkStatus();
  }
  std::string path = r.settings.value("HostPath", std::string());
  if (it != vm.pmem.end()) {
    if (it->second == path) co_return OkStatus();
    co_return Status::fromHResult(hr::kFail, "Modify", id,
                                  "VPMem device " + std::to_string(n) + " still holds " + it->second +
                                      " (virtio-pmem devices cannot be unplugged)");
  }
  auto imageSize = pmemImageSize("Modify", id, "Settings.HostPath", path);
  if (!imageSize.ok()) co_return imageSize.status();
  uint64_t size = *imageSize;
  std::string dev = "vp" + std::to_string(n), obj = "pm" + std::to_string(n);
  Json o = Json::object();
  o["qom-type"] = "memory-backend-file";
  o["id"] = obj;
  o["mem-path"] = path;
  o["size"] = size;
  o["share"] = true;
  o["readonly"] = true;
  auto qmp = vm.qmp;
  auto added = co_await qmp->execute("object-add", o);
  if (!added.ok()) co_return Status::fromHResult(hr::kFail, "Modify", id, added.status().message());
  Json d = Json::object();
  d["driver"] = "virtio-pmem-pci";
  d["id"] = dev;
  d["memdev"] = obj;
  auto plugged = co_await qmp->execute("device_add", d);
  if (!plugged.ok()) {
    Json undo = Json::object();
    undo["id"] = obj;
    (void)co_await qmp->execute("object-del", undo);
    co_return Status::fromHResult(hr::kFail, "Modify", id, plugged.status().message());
  }
  vm.pmem[n] = path;
  co_return OkStatus();
}

// nic: the endpoint's NIC as a tap QEMU opens (it goes when QEMU closes it)
// on the network's bridge, and a virtio-net-pci with the endpoint's MAC
// (the guest agent finds it by MAC). Removing waits for the guest to let the
// PCI device go (DEVICE_DELETED), then drops the netdev.
Task<Status> QemuVmBackend::nic(std::string id, std::shared_ptr<Vm> vm, std::string adapterId,
                                schema::ModifySettingRequest r) {
  std::string hex = hexId(adapterId);
  std::string tap = "hcst" + hex, netdev = "n" + hex, dev = "nic" + hex;
  auto qmp = vm->qmp;
  if (r.requestType.value_or("") == "Remove") {
    auto it = vm->nics.find(adapterId);
    if (it == vm->nics.end()) co_return OkStatus();
    Vm::Nic n = it->second;
    Json d = Json::object();
    d["id"] = dev;
    auto del = co_await qmp->execute("device_del", d);
    if (del.ok()) {
      auto gone = co_await qmp->waitEvent("DEVICE_DELETED", std::chrono::seconds(20));
      if (!gone.ok()) co_return Status::fromHResult(hr::kFail, "Modify", id, "NIC " + adapterId + ": " + gone.status().message());
    }
    Json nd = Json::object();
    nd["id"] = netdev;
    (void)co_await qmp->execute("netdev_del", nd);
    vm->nics.erase(adapterId);
    co_return co_await bridges_.unplug(n.tap, n.bridge, /*deleteLink=*/false);
  }
  if (!options_.lookupEndpoint) {
    co_return Status::fromHResult(hr::kNotImpl, "Modify", id, "network adapters need HNS: none is configured");
  }
  std::string endpointId = r.settings.is_object() ? r.settings.value("EndpointId", std::string()) : "";
  auto ep = options_.lookupEndpoint(endpointId);
  if (!ep.ok()) co_return Status::fromHResult(ep.status().hresult(), "Modify", id, "Settings.EndpointId: " + ep.status().message());
  std::string mac = r.settings.value("MacAddress", ep->macAddress);
  if (colonMac(mac) != colonMac(ep->macAddress)) {
    co_return Status::fromHResult(hr::kInvalidArg, "Modify", id,
                                  "Settings.MacAddress " + mac + " is not endpoint " + endpointId + "'s (" + ep->macAddress + ")");
  }
  if (vm->nics.count(adapterId)) co_return Status::fromHResult(hr::kAlreadyExists, "Modify", id, "NIC " + adapterId + " is already there");
  Json nd = Json::object();
  nd["type"] = "tap";
  nd["id"] = netdev;
  nd["ifname"] = tap;
  nd["script"] = "no";
  nd["downscript"] = "no";
  auto added = co_await qmp->execute("netdev_add", nd);
  if (!added.ok()) co_return Status::fromHResult(hr::kFail, "Modify", id, "NIC " + adapterId + ": " + added.status().message());
  std::string bridge = bridgeFor(ep->networkId);
  Status plugged = co_await bridges_.plug(tap, *ep);
  Json d = Json::object();
  d["driver"] = "virtio-net-pci";
  d["id"] = dev;
  d["netdev"] = netdev;
  d["mac"] = colonMac(mac);
  StatusOr<Json> device = plugged;  // (no co_await inside ?: - GCC 12 miscompiles it)
  if (plugged.ok()) device = co_await qmp->execute("device_add", d);
  if (!device.ok()) {
    Json undo = Json::object();
    undo["id"] = netdev;
    (void)co_await qmp->execute("netdev_del", undo);
    if (plugged.ok()) (void)co_await bridges_.unplug(tap, bridge, /*deleteLink=*/false);
    co_return Status::fromHResult(hr::kFail, "Modify", id, "NIC " + adapterId + ": " + device.status().message());
  }
  vm->nics[adapterId] = Vm::Nic{tap, bridge};
  HLOG(Info, "hcs_fake.qemu.nic_added").kv("id", id).kv("adapter", adapterId).kv("endpoint", endpointId)
      .kv("tap", tap).kv("bridge", bridge).kv("mac", mac);
  co_return OkStatus();
}

// plan9: HCS serves a share on the VM's vsock port (Settings.Port, 564).
Status QemuVmBackend::plan9(const std::string& id, Vm& vm, const schema::ModifySettingRequest& r) {
  std::string name = r.settings.value("AccessName", r.settings.value("Name", std::string()));
  if (name.empty()) return Status::fromHResult(hr::kInvalidArg, "Modify", id, "Settings.Name: required");
  int port = r.settings.value("Port", 564);
  if (port <= 0) return Status::fromHResult(hr::kInvalidArg, "Modify", id, "Settings.Port: " + std::to_string(port));
  auto& server = vm.plan9[port];
  if (r.requestType.value_or("") == "Remove") {
    Status st = server ? server->remove(name) : NotFoundError("no Plan9 share " + name);
    if (!st.ok()) return Status::fromHResult(hr::kElementNotFound, "Modify", id, st.message());
    return OkStatus();
  }
  if (!server) {
    server = std::make_unique<Plan9Server>(rt_, options_.diodPath, vmDir(id),
                                           platforms::hybridVsockPath(options_.vsockRoot, id) + "_" + std::to_string(port));
    Status st = server->start();
    if (!st.ok()) {
      server.reset();
      return Status::fromHResult(hr::kFail, "Modify", id, "Plan9 server on port " + std::to_string(port) + ": " + st.message());
    }
  }
  Plan9Share share{.path = r.settings.value("Path", std::string()),
                   .readOnly = (r.settings.value("Flags", 0) & 0x1) != 0 || r.settings.value("ReadOnly", false)};
  std::error_code ec;
  if (!fs::is_directory(share.path, ec)) {
    return Status::fromHResult(hr::kFileNotFound, "Modify", id, "Settings.Path: " + share.path + " is not a directory");
  }
  Status st = server->add(name, share);
  if (!st.ok()) return Status::fromHResult(hr::kInvalidArg, "Modify", id, st.message());
  return OkStatus();
}

Task<StatusOr<hcs::CreatedProcess>> QemuVmBackend::createProcess(const std::string& id,
                                                                 const schema::ProcessParameters&) {
  co_return Status::fromHResult(hr::kNotImpl, "CreateProcess", id,
                                "a Linux utility VM runs processes over its guest connection (the GCS bridge), "
                                "not through HCS");
}

Task<Status> QemuVmBackend::signalProcess(const std::string& id, uint32_t pid, int) {
  co_return Status::fromHResult(hr::kElementNotFound, "SignalProcess", id + "/" + std::to_string(pid),
                                "no HCS process in a Linux utility VM");
}

}  // namespace hcsshim::hcs_fake
