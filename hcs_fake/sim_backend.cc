#include "hcs_fake/sim_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "hcs_fake/freezer.h"
#include "hcs_fake/host_network.h"
#include "platforms/linux/hybrid_vsock.h"
#include "src/common/log.h"
#include "src/runtime/read_file.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

struct SimVmBackend::Vm {
  struct Nic {
    std::string hostEnd, bridge;
  };
  std::map<std::string, Nic> nics;  // adapter id -> its veth and bridge
  std::unique_ptr<runtime::Process> guest;
  std::shared_ptr<runtime::Listener> vmm;  // CONNECT requests from the host
  bool stopping = false;
  bool exited = false;
  runtime::ExitStatus exit;
  runtime::WaitList exitedChanged;
};

namespace {


// The hierarchies a VM's cgroup lives in (v1: every mounted hierarchy, as
// runc creates its containers' cgroups in all of them).
std::vector<std::string> hierarchies(const std::string& root) {
  if (isCgroupV2(root)) return {root};
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& h : fs::directory_iterator(root, ec)) {
    if (h.is_directory(ec) && fs::exists(h.path() / "cgroup.procs", ec)) out.push_back(h.path().string());
  }
  return out;
}

// writeFile: a cgroup setting; a failure is logged (the VM runs without it,
// as HCS would not, so the log must say why).
void writeFile(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : ::write(fd, value.data(), value.size());
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    HLOG(Warn, "hcs_fake.sim.cgroup_write_failed").kv("path", path).kv("value", value).kv("error", std::strerror(err));
  }
}

// removeTree removes a cgroup directory and its children, deepest first
// (cgroup directories are removed with rmdir, never unlink).
void removeCgroupTree(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> subdirs;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec)) subdirs.push_back(e.path());
  }
  for (auto& d : subdirs) removeCgroupTree(d);
  ::rmdir(dir.c_str());
}

// cgroupDirs: dir and every cgroup below it, parents first.
void cgroupDirs(const fs::path& dir, std::vector<fs::path>* out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  out->push_back(dir);
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec)) cgroupDirs(e.path(), out);
  }
}

}  // namespace

Task<std::set<std::string>> removeDeadDaemonCgroups(runtime::EventLoop& loop, std::string cgroupRoot,
                                                    std::function<bool(const std::string&)> gone,
                                                    std::string prefix) {
  bool v2 = isCgroupV2(cgroupRoot);
  std::set<std::string> dead, left;
  for (const auto& h : hierarchies(cgroupRoot)) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(h, ec)) {
      std::string name = e.path().filename().string();
      if (e.is_directory(ec) && name.rfind(prefix, 0) == 0 && gone(name.substr(prefix.size()))) dead.insert(name);
    }
  }
  for (const std::string& name : dead) {
    // A frozen process cannot die: thaw every group first, then kill what
    // runs there, then remove the groups once their tasks have left.
    std::vector<fs::path> groups;
    cgroupDirs(fs::path(v2 ? cgroupRoot : cgroupRoot + "/freezer") / name, &groups);
    for (const auto& g : groups) (void)writeFreezerState(g.string(), v2, false);
    int killed = 0;
    for (const auto& h : hierarchies(cgroupRoot)) {
      std::vector<fs::path> all;
      cgroupDirs(fs::path(h) / name, &all);
      for (const auto& g : all) {
        std::ifstream procs(g / "cgroup.procs");
        // cgroup v2 lists a process outside our PID namespace as 0, which
        // kill(2) would take for our own process group: only real pids.
        for (pid_t pid; procs >> pid;) {
          if (pid > 0 && pid != getpid()) killed += ::kill(pid, SIGKILL) == 0 ? 1 : 0;
        }
      }
    }
    bool stays = true;
    for (int i = 0; i < 200 && stays; ++i) {
      stays = false;
      for (const auto& h : hierarchies(cgroupRoot)) {
        std::error_code ec;
        removeCgroupTree(fs::path(h) / name);
        stays = stays || fs::exists(fs::path(h) / name, ec);
      }
      if (stays) co_await runtime::sleep(loop, std::chrono::milliseconds(10));
    }
    if (stays) left.insert(name.substr(prefix.size()));
    HLOG(Info, "hcs_fake.sim.stale_cgroups_removed").kv("cgroup", name).kv("killed", killed).kv("left", stays);
  }
  co_return left;
}

std::string findGuestAgent(const std::string& argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv0;
  std::vector<fs::path> candidates = {
      fs::path(self.string() + ".runfiles") / "hcsshim_cpp/gcs/gcs",  // bazel run / bazel-bin
      self.parent_path().parent_path() / "gcs/gcs",                   // bazel-bin/hcs_fake/.. /gcs/gcs
      self.parent_path() / "gcs",                                     // installed side by side
  };
  if (const char* runfiles = std::getenv("TEST_SRCDIR")) candidates.insert(candidates.begin(), fs::path(runfiles) / "hcsshim_cpp/gcs/gcs");
  for (auto& c : candidates) {
    if (fs::exists(c, ec)) return c.string();
  }
  return "gcs";
}

int lcowScsiControllerIndex(const std::string& guid) {
  static const char* kControllers[] = {"df6d0690-79e5-55b6-a5ec-c1e2f77f580a", "0110f83b-de10-5172-a266-78bca56bf50a",
                                       "b5d2d8d4-3a75-51bf-945b-3444dc6b8579", "305891a9-b251-5dfe-91a2-c25d9212275b"};
  std::string lower = guid;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (int i = 0; i < 4; ++i) {
    if (lower == kControllers[i]) return i;
  }
  return -1;
}

SimVmBackend::SimVmBackend(runtime::Runtime& rt, SimBackendOptions options)
    : rt_(rt), options_(std::move(options)), bridges_(rt, options_.ipPath, options_.nftPath, options_.natTable) {}

SimVmBackend::~SimVmBackend() {
  for (auto& [id, vm] : vms_) {
    vm->stopping = true;
    if (vm->guest && !vm->guest->exitStatus()) (void)vm->guest->signal(SIGKILL);
  }
  // Everything under our parent cgroup goes with us; a cgroup whose last
  // task exited a moment ago can still be busy, so retry for a while.
  for (int i = 0; i < 100; ++i) {
    bool left = false;
    for (const auto& h : hierarchies(options_.cgroupRoot)) {
      std::error_code ec;
      removeCgroupTree(h + options_.cgroupParent);
      left = left || fs::exists(h + options_.cgroupParent, ec);
    }
    if (!left) break;
    ::usleep(10 * 1000);
  }
}

int SimVmBackend::guestPid(const std::string& id) const {
  auto it = vms_.find(id);
  return it == vms_.end() || !it->second->guest ? 0 : it->second->guest->pid();
}

Task<Status> SimVmBackend::start(const std::string& id, const schema::VirtualMachine& doc) {
  if (vms_.count(id)) co_return Status::fromHResult(hr::kHcsInvalidState, "Start", id, "the guest is already running");
  if (options_.gcsPath.empty() || !fs::exists(options_.gcsPath)) {
    co_return Status::fromHResult(hr::kFileNotFound, "Start", id,
                                  "sim VM backend: guest agent binary not found: " + options_.gcsPath);
  }
  std::string dir = vmDir(id);
  std::error_code ec;
  fs::remove_all(dir, ec);
  for (const char* sub : {"/scsi/0", "/scsi/1", "/scsi/2", "/scsi/3", "/pmem", "/shares"}) {
    fs::create_directories(dir + sub, ec);
    if (ec) co_return Status::fromHResult(hr::kFail, "Start", id, "creating " + dir + sub + ": " + ec.message());
  }
  fs::create_directories(options_.vsockRoot, ec);
  Status linked = linkDocumentDevices(dir, id, doc);
  if (!linked.ok()) {
    fs::remove_all(dir, ec);
    co_return linked;
  }

  // The VM's cgroup: its memory and processors, as the document says.
  uint64_t memoryMB = 0;
  uint32_t processors = 0;
  if (doc.computeTopology && doc.computeTopology->memory) memoryMB = doc.computeTopology->memory->sizeInMB.value_or(0);
  if (doc.computeTopology && doc.computeTopology->processor) {
    processors = doc.computeTopology->processor->count.value_or(0);
  }
  std::string cg = cgroupPath(id);
  bool v2 = isCgroupV2(options_.cgroupRoot);
  for (const auto& h : hierarchies(options_.cgroupRoot)) {
    fs::create_directories(h + cg, ec);
    if (ec) HLOG(Warn, "hcs_fake.sim.cgroup_mkdir_failed").kv("path", h + cg).kv("error", ec.message());
    // A new v1 cpuset group has no CPUs or memory nodes, and nothing can
    // join it (ENOSPC) until it gets its parent's.
    if (fs::exists(h + "/cpuset.cpus", ec)) {
      for (const std::string& dir : {h + options_.cgroupParent, h + cg}) {
        for (const char* file : {"/cpuset.cpus", "/cpuset.mems"}) {
          std::string mine = runtime::readFile(dir + file, 4096).value_or("");
          if (mine.find_first_not_of(" \n") != std::string::npos) continue;
          std::string parent = runtime::readFile(fs::path(dir).parent_path().string() + file, 4096).value_or("");
          writeFile(dir + file, parent);
        }
      }
    }
    if (v2) writeFile(h + options_.cgroupParent + "/cgroup.subtree_control", "+memory +cpu +pids");
  }
  if (v2) {
    if (memoryMB) writeFile(options_.cgroupRoot + cg + "/memory.max", std::to_string(memoryMB << 20));
    if (processors) writeFile(options_.cgroupRoot + cg + "/cpu.max", std::to_string(processors * 100000) + " 100000");
  } else {
    if (memoryMB) writeFile(options_.cgroupRoot + "/memory" + cg + "/memory.limit_in_bytes", std::to_string(memoryMB << 20));
    if (processors) {
      writeFile(options_.cgroupRoot + "/cpu" + cg + "/cpu.cfs_period_us", "100000");
      writeFile(options_.cgroupRoot + "/cpu" + cg + "/cpu.cfs_quota_us", std::to_string(processors * 100000));
    }
  }

  runtime::ProcessSpec spec{.path = options_.gcsPath,
                            .args = {options_.gcsPath, "--hybrid-vsock", platforms::hybridVsockPath(options_.vsockRoot, id),
                                     "--sim-vm", "--boot", "--state-dir", "/run/gcs", "--mount-root", "/run",
                                     "--mount-root", dir, "--scsi-root", dir + "/scsi", "--pmem-root", dir + "/pmem",
                                     "--plan9-root", dir + "/shares", "--cgroup-parent", cg}};
  spec.args.insert(spec.args.end(), options_.extraGcsArgs.begin(), options_.extraGcsArgs.end());
  // In the freezer group from before it runs: a pause freezes everything it starts.
  std::string freezerDir = isCgroupV2(options_.cgroupRoot) ? options_.cgroupRoot + cg : options_.cgroupRoot + "/freezer" + cg;
  if (fs::exists(freezerDir)) spec.cgroups = {freezerDir};
  spec.isolate = true;
  spec.isolateNetwork = true;     // the VM's own network stack: only its NICs are in it
  spec.killOnParentDeath = true;  // a VM does not outlive its HCS
  auto guest = rt_.processes().spawn(spec);
  if (!guest.ok()) co_return guest.status().withContext("Start", id);
  if (!(*guest)->isolated()) {
    (void)(*guest)->signal(SIGKILL);
    co_return Status::fromHResult(hr::kAccessDenied, "Start", id,
                                  "sim VM backend: the guest needs its own namespaces (run the fake HCS as root)");
  }
  for (const auto& h : hierarchies(options_.cgroupRoot)) {
    writeFile(h + cg + "/cgroup.procs", std::to_string((*guest)->pid()));
  }
  auto vm = std::make_shared<Vm>();
  vm->guest = std::move(*guest);
  auto vmm = rt_.transport().listen("unix://" + platforms::hybridVsockPath(options_.vsockRoot, id));
  if (vmm.ok()) {
    vm->vmm = std::shared_ptr<runtime::Listener>(std::move(*vmm));
    runtime::spawn(serveConnects(id, vm->vmm));
  }
  vms_[id] = vm;
  // The sim backend runs our gcs as the guest: the document's kernel, initrd
  // and command line (checked to exist, as HCS does) are not booted.
  if (doc.chipset && doc.chipset->linuxKernelDirect) {
    HLOG(Info, "hcs_fake.sim.boot_files_unused").kv("id", id)
        .kv("kernel", doc.chipset->linuxKernelDirect->kernelFilePath.value_or(""))
        .kv("cmdline", doc.chipset->linuxKernelDirect->kernelCmdLine.value_or(""));
  }
  HLOG(Info, "hcs_fake.sim.vm_started").kv("id", id).kv("guest_pid", vm->guest->pid()).kv("memory_mb", memoryMB)
      .kv("processors", processors);
  runtime::spawn(watch(id, vm));
  co_return OkStatus();
}

Task<void> SimVmBackend::watch(std::string id, std::shared_ptr<Vm> vm) {
  runtime::ExitStatus st = co_await vm->guest->wait();
  vm->exited = true;
  vm->exit = st;
  HLOG(Info, "hcs_fake.sim.guest_exited").kv("id", id).kv("exit_code", st.exitCode).kv("signal", st.signal)
      .kv("asked", vm->stopping);
  cleanup(id, *vm);
  // A cgroup whose last task just exited can still be busy for a moment:
  // retry its removal briefly.
  for (int i = 0; i < 50; ++i) {
    bool left = false;
    for (const auto& h : hierarchies(options_.cgroupRoot)) {
      std::error_code ec;
      if (fs::exists(h + cgroupPath(id), ec)) {
        removeCgroupTree(h + cgroupPath(id));
        left = left || fs::exists(h + cgroupPath(id), ec);
      }
    }
    if (!left) break;
    co_await runtime::sleep(rt_.loop(), std::chrono::milliseconds(10));
  }
  auto it = vms_.find(id);
  if (it != vms_.end() && it->second == vm) vms_.erase(it);
  vm->exitedChanged.notifyAll();
  // Not asked to stop: a clean exit is the guest powering itself off, any
  // other end a crash.
  if (!vm->stopping && onExit_) onExit_(id, st.exitCode == 0 && st.signal == 0 ? hr::kOk : hr::kHcsUnexpectedExit);
}

// pipe copies one direction until EOF, then passes the EOF on.
static Task<void> pipeStream(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, int& open) {
  (void)co_await runtime::copyStream(*from, *to);
  (void)to->shutdownWrite();
  if (--open == 0) {
    from->close();
    to->close();
  }
}

Task<void> SimVmBackend::serveConnects(std::string id, std::shared_ptr<runtime::Listener> l) {
  for (;;) {
    auto s = co_await l->accept();
    if (!s.ok()) co_return;
    runtime::spawn(connectToGuest(id, std::move(*s)));
  }
}

// connectToGuest: the VMM's side of "CONNECT <port>\n" (Firecracker's hybrid
// vsock): reach the guest's listener or close the connection.
Task<void> SimVmBackend::connectToGuest(std::string id, std::unique_ptr<runtime::Stream> host) {
  std::string line;
  char c;
  while (line.size() < 24) {
    auto n = co_await host->read(std::span<char>(&c, 1));
    if (!n.ok() || *n == 0) co_return;
    if (c == '\n') break;
    line += c;
  }
  uint32_t port = 0;
  bool valid = line.rfind("CONNECT ", 0) == 0 && line.size() > 8 && line.size() <= 18;
  for (size_t i = 8; valid && i < line.size(); ++i) {
    valid = line[i] >= '0' && line[i] <= '9';
    port = port * 10 + static_cast<uint32_t>(line[i] - '0');
  }
  if (!valid) {
    HLOG(Warn, "hcs_fake.sim.vsock_bad_request").kv("id", id).kv("line", line);
    co_return;  // closing is the protocol's only "no"
  }
  auto guest = co_await rt_.transport().connect("unix://" + platforms::hybridVsockPath(options_.vsockRoot, id) +
                                                ".guest_" + std::to_string(port));
  if (!guest.ok()) co_return;
  static uint32_t nextHostPort = 1024;
  std::string ok = "OK " + std::to_string(nextHostPort++) + "\n";
  if (!(co_await host->write(ok)).ok()) co_return;
  auto open = std::make_shared<int>(2);
  std::shared_ptr<runtime::Stream> h(std::move(host)), g(std::move(*guest));
  runtime::spawn([](std::shared_ptr<runtime::Stream> a, std::shared_ptr<runtime::Stream> b,
                    std::shared_ptr<int> open) -> Task<void> { co_await pipeStream(a, b, *open); }(h, g, open));
  runtime::spawn([](std::shared_ptr<runtime::Stream> a, std::shared_ptr<runtime::Stream> b,
                    std::shared_ptr<int> open) -> Task<void> { co_await pipeStream(a, b, *open); }(g, h, open));
}

void SimVmBackend::cleanup(const std::string& id, Vm& vm) {
  if (vm.vmm) vm.vmm->close();
  std::vector<std::string> nics;
  for (auto& [adapter, nic] : vm.nics) nics.push_back(adapter);
  for (auto& adapter : nics) releaseNic(vm, adapter);
  // The guest's mounts died with its mount namespace and its processes with
  // its pid namespace; what is left on the host is files and cgroups.
  for (const auto& h : hierarchies(options_.cgroupRoot)) removeCgroupTree(h + cgroupPath(id));
  std::error_code ec;
  fs::remove_all(vmDir(id), ec);
  std::string prefix = fs::path(platforms::hybridVsockPath(options_.vsockRoot, id)).filename();
  for (const auto& e : fs::directory_iterator(options_.vsockRoot, ec)) {
    std::string name = e.path().filename();
    if (name.rfind(prefix, 0) == 0) fs::remove(e.path(), ec);
  }
}

Task<Status> SimVmBackend::stop(const std::string& id, bool graceful) {
  auto it = vms_.find(id);
  if (it == vms_.end()) co_return OkStatus();
  std::shared_ptr<Vm> vm = it->second;
  vm->stopping = true;
  // A paused guest must run to shut down.
  (void)co_await resume(id);
  if (graceful) {
    (void)vm->guest->signal(SIGTERM);
    bool late = false;
    auto timer = rt_.loop().addTimer(options_.gracefulStopTimeout, [vm, &late] {
      late = true;
      vm->exitedChanged.notifyAll();
    });
    while (!vm->exited && !late) co_await vm->exitedChanged.wait();
    rt_.loop().cancelTimer(timer);
    // A guest that ends with an error while it is being shut down did not
    // shut down: it crashed (its agent died on its own, e.g. on bridge EOF).
    if (vm->exited && (vm->exit.exitCode != 0 || (vm->exit.signal != 0 && vm->exit.signal != SIGTERM))) {
      co_return Status::fromHResult(hr::kHcsUnexpectedExit, "Shutdown", id,
                                    "the guest exited with code " + std::to_string(vm->exit.exitCode) +
                                        " during the shutdown");
    }
  }
  if (!vm->exited) (void)vm->guest->signal(SIGKILL);
  while (!vm->exited) co_await vm->exitedChanged.wait();
  co_return OkStatus();
}

// Pause/resume: the VM's cgroup frozen (every guest process: the agent, its
// containers, everything they started), written and read back; a write that
// fails is the operation's error.
Task<Status> SimVmBackend::freeze(const std::string& id, bool frozen) {
  std::string cg = cgroupPath(id);
  bool v2 = isCgroupV2(options_.cgroupRoot);
  std::string dir = v2 ? options_.cgroupRoot + cg : options_.cgroupRoot + "/freezer" + cg;
  if (!fs::exists(dir)) {
    co_return Status::fromHResult(hr::kNotImpl, frozen ? "Pause" : "Resume", id,
                                  "no cgroup freezer for this VM (" + dir + ")");
  }
  Status st = co_await freezeCgroup(rt_.loop(), dir, v2, frozen);
  if (!st.ok()) {
    if (frozen) (void)writeFreezerState(dir, v2, false);  // nothing half-frozen is left behind
    co_return Status::fromHResult(hr::kFail, frozen ? "Pause" : "Resume", id, st.message());
  }
  co_return OkStatus();
}

Task<Status> SimVmBackend::pause(const std::string& id) { return freeze(id, true); }
Task<Status> SimVmBackend::resume(const std::string& id) { return freeze(id, false); }

namespace {

// pathParts: a resource path's components ("VirtualMachine/Devices/Scsi/..").
std::vector<std::string> pathParts(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      parts.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

}  // namespace

StatusOr<bool> linkGuestDevice(const std::string& dir, const std::string& id, const schema::ModifySettingRequest& req) {
  if (!req.resourcePath) return false;
  const std::string& path = *req.resourcePath;
  const std::string type = req.requestType.value_or("");
  // Paths were validated by the service; turn devices into files the guest finds.
  auto link = [&](const std::string& target, const std::string& at) -> StatusOr<bool> {
    std::error_code ec;
    fs::remove(at, ec);
    if (type == "Remove") return true;
    fs::create_directories(fs::path(at).parent_path(), ec);
    fs::create_symlink(target, at, ec);
    if (ec) return Status::fromHResult(hr::kFail, "Modify", id, "linking " + at + ": " + ec.message());
    return true;
  };
  std::vector<std::string> parts = pathParts(path);
  if (parts.size() == 6 && parts[2] == "Scsi") {
    int c = lcowScsiControllerIndex(parts[3]);
    if (c < 0) return Status::fromHResult(hr::kElementNotFound, "Modify", id, "not an LCOW SCSI controller: " + parts[3]);
    return link(req.settings.value("Path", ""), dir + "/scsi/" + std::to_string(c) + "/" + parts[5]);
  }
  if (parts.size() == 5 && parts[2] == "VirtualPMem") {
    return link(req.settings.value("HostPath", ""), dir + "/pmem/" + parts[4]);
  }
  if (path == "VirtualMachine/Devices/Plan9/Shares") {
    std::string name = req.settings.value("Name", "");
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return Status::fromHResult(hr::kInvalidArg, "Modify", id, "Settings.Name: not a share name: " + name);
    }
    return link(req.settings.value("Path", ""), dir + "/shares/" + name);
  }
  return false;
}

Status linkDocumentDevices(const std::string& dir, const std::string& id, const schema::VirtualMachine& doc) {
  if (!doc.devices) return OkStatus();
  auto bad = [&](const std::string& field, const std::string& why) {
    return Status::fromHResult(hr::kInvalidArg, "Start", id, field + ": " + why);
  };
  auto number = [](const std::string& key, unsigned limit) {
    if (key.empty() || key.size() > 3 || key.find_first_not_of("0123456789") != std::string::npos) return false;
    return static_cast<unsigned>(std::stoul(key)) < limit;
  };
  auto add = [&](const std::string& path, Json settings) -> Status {
    schema::ModifySettingRequest req;
    req.resourcePath = path;
    req.requestType = "Add";
    req.settings = std::move(settings);
    return linkGuestDevice(dir, id, req).status();
  };
  for (const auto& [guid, ctl] : doc.devices->scsi) {
    std::string field = "VirtualMachine.Devices.Scsi." + guid;
    if (ctl.attachments.empty()) continue;
    if (lcowScsiControllerIndex(guid) < 0) return bad(field, "not an LCOW SCSI controller");
    for (const auto& [lun, att] : ctl.attachments) {
      if (!number(lun, 64)) return bad(field + ".Attachments." + lun, "the key is not a LUN 0..63");
      HCS_RETURN_IF_ERROR(add("VirtualMachine/Devices/Scsi/" + guid + "/Attachments/" + lun, Json{{"Path", att.path.value_or("")}}));
    }
  }
  if (doc.devices->virtualPMem) {
    for (const auto& [n, dev] : doc.devices->virtualPMem->devices) {
      if (!number(n, 128)) return bad("VirtualMachine.Devices.VirtualPMem.Devices." + n, "the key is not a device number 0..127");
      HCS_RETURN_IF_ERROR(add("VirtualMachine/Devices/VirtualPMem/Devices/" + n, Json{{"HostPath", dev.hostPath.value_or("")}}));
    }
  }
  return OkStatus();
}

Task<Status> SimVmBackend::modify(const std::string& id, const schema::ModifySettingRequest& req) {
  if (!req.resourcePath) co_return OkStatus();  // guest requests travel over the guest connection
  auto linked = linkGuestDevice(vmDir(id), id, req);
  if (!linked.ok()) co_return linked.status();
  if (*linked) co_return OkStatus();
  const std::string& path = *req.resourcePath;
  const std::string type = req.requestType.value_or("");
  std::vector<std::string> parts = pathParts(path);
  if (parts.size() == 4 && parts[2] == "NetworkAdapters") {
    if (type == "Remove") co_return co_await removeNic(id, parts[3]);
    if (type == "Add") co_return co_await addNic(id, parts[3], req.settings);
  }
  co_return OkStatus();  // memory/processor updates, opaque devices
}

Task<Status> SimVmBackend::addNic(std::string id, std::string adapterId, Json settings) {
  auto it = vms_.find(id);
  if (it == vms_.end()) co_return Status::fromHResult(hr::kInvalidState, "Modify", id, "the VM is not running");
  std::shared_ptr<Vm> vm = it->second;
  if (!options_.lookupEndpoint) {
    co_return Status::fromHResult(hr::kNotImpl, "Modify", id, "network adapters need HNS: none is configured");
  }
  std::string endpointId = settings.is_object() ? settings.value("EndpointId", "") : "";
  auto ep = options_.lookupEndpoint(endpointId);
  if (!ep.ok()) co_return Status::fromHResult(ep.status().hresult(), "Modify", id, "Settings.EndpointId: " + ep.status().message());
  std::string mac = settings.is_object() && settings.contains("MacAddress") && settings["MacAddress"].is_string()
                        ? settings["MacAddress"].get<std::string>()
                        : ep->macAddress;
  if (colonMac(mac) != colonMac(ep->macAddress)) {
    co_return Status::fromHResult(hr::kInvalidArg, "Modify", id,
                                  "Settings.MacAddress " + mac + " is not endpoint " + endpointId + "'s (" + ep->macAddress + ")");
  }
  Vm::Nic nic{"hcsh" + hexId(adapterId), bridgeFor(ep->networkId)};
  std::string guestEnd = "hcsg" + hexId(adapterId);
  std::vector<std::vector<std::string>> steps = {
      {"link", "add", nic.hostEnd, "type", "veth", "peer", "name", guestEnd},
      {"link", "set", "dev", guestEnd, "address", colonMac(mac)},
      {"link", "set", "dev", guestEnd, "netns", std::to_string(vm->guest->pid())},  // into the VM
  };
  std::vector<std::string> undo = {"link", "del", nic.hostEnd};
  for (size_t i = 0; i < steps.size(); ++i) {
    Status st = co_await bridges_.ip(steps[i]);
    if (!st.ok()) {
      if (i > 0) (void)co_await bridges_.ip(undo);
      co_return st;
    }
  }
  Status plugged = co_await bridges_.plug(nic.hostEnd, *ep);
  if (!plugged.ok()) {
    (void)co_await bridges_.ip(undo);
    co_return plugged;
  }
  vm->nics[adapterId] = nic;
  HLOG(Info, "hcs_fake.sim.nic_added").kv("id", id).kv("adapter", adapterId).kv("endpoint", endpointId)
      .kv("veth", nic.hostEnd).kv("bridge", nic.bridge).kv("mac", mac);
  co_return OkStatus();
}

Task<Status> SimVmBackend::removeNic(std::string id, std::string adapterId) {
  auto it = vms_.find(id);
  if (it == vms_.end()) co_return OkStatus();
  std::shared_ptr<Vm> vm = it->second;
  auto nic = vm->nics.find(adapterId);
  if (nic == vm->nics.end()) co_return OkStatus();
  Vm::Nic gone = nic->second;
  Status st = co_await bridges_.unplug(gone.hostEnd, gone.bridge, /*deleteLink=*/true);
  if (!st.ok()) co_return st;
  vm->nics.erase(adapterId);
  HLOG(Info, "hcs_fake.sim.nic_removed").kv("id", id).kv("adapter", adapterId);
  co_return OkStatus();
}

void SimVmBackend::releaseNic(Vm& vm, const std::string& adapterId) {
  auto nic = vm.nics.find(adapterId);
  if (nic == vm.nics.end()) return;
  bridges_.release(nic->second.hostEnd, nic->second.bridge, /*deleteLink=*/true);
  vm.nics.erase(nic);
}

Task<StatusOr<hcs::CreatedProcess>> SimVmBackend::createProcess(const std::string& id,
                                                                const schema::ProcessParameters&) {
  co_return Status::fromHResult(hr::kNotImpl, "CreateProcess", id,
                                "a Linux utility VM runs processes over its guest connection (the GCS bridge), "
                                "not through HCS");
}

Task<Status> SimVmBackend::signalProcess(const std::string& id, uint32_t pid, int) {
  co_return Status::fromHResult(hr::kElementNotFound, "SignalProcess", id + "/" + std::to_string(pid),
                                "no HCS process in a Linux utility VM");
}

}  // namespace hcsshim::hcs_fake
