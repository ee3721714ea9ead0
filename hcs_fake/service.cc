#include "hcs_fake/service.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hcs_fake/records.h"
#include "src/common/guid.h"
#include "src/common/log.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace hr = hresult;

std::string stateName(SystemState s) {
  switch (s) {
    case SystemState::kCreated: return "Created";
    case SystemState::kRunning: return "Running";
    case SystemState::kPaused: return "Paused";
    case SystemState::kStopped: return "Stopped";
  }
  return "Unknown";
}

namespace {

// hcsError: a failure as HCS reports it - HRESULT, message and ErrorEvents.
Status hcsError(HResult code, std::string op, std::string id, std::string message) {
  return schema::withErrorEvent(Status::fromHResult(code, std::move(op), std::move(id), std::move(message)));
}

// invalidJson turns a schema decode error into HCS_E_INVALID_JSON keeping its message.
Status invalidJson(const Status& decodeError, std::string op, std::string id) {
  return hcsError(hr::kHcsInvalidJson, std::move(op), std::move(id), decodeError.message());
}

bool fileExists(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::exists(path, ec);
}

// SharedStream lets the service and a client hold the same stdio stream (and,
// for a console, lets stdin and stdout be two handles on one terminal). The
// underlying stream closes when the last client handle closes; the service
// can always close it directly (ModifyProcess CloseHandle).
class SharedStream final : public runtime::Stream {
 public:
  struct End {
    std::shared_ptr<runtime::Stream> stream;
    int handles = 0;
  };
  explicit SharedStream(std::shared_ptr<End> e) : e_(std::move(e)) { ++e_->handles; }
  ~SharedStream() override { close(); }
  runtime::Task<StatusOr<size_t>> read(std::span<char> buf) override { return e_->stream->read(buf); }
  runtime::Task<Status> write(std::string_view data) override { return e_->stream->write(data); }
  Status shutdownWrite() override { return e_->stream->shutdownWrite(); }
  void close() override {
    if (closed_) return;
    closed_ = true;
    if (--e_->handles == 0) e_->stream->close();
  }
  StatusOr<runtime::PeerCredentials> peerCredentials() const override { return e_->stream->peerCredentials(); }
  std::string describe() const override { return e_->stream->describe(); }

 private:
  std::shared_ptr<End> e_;
  bool closed_ = false;
};

// ProcStat: CPU times (100 ns units) and resident memory of a live process.
struct ProcStat {
  uint64_t user100ns = 0;
  uint64_t kernel100ns = 0;
  uint64_t rssBytes = 0;
  bool ok = false;
};

ProcStat readProcStat(int pid) {
  ProcStat st;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return st;
  auto rparen = line.rfind(')');
  if (rparen == std::string::npos) return st;
  std::istringstream rest(line.substr(rparen + 2));
  std::vector<std::string> fields;
  std::string tok;
  while (rest >> tok) fields.push_back(tok);
  // After "pid (comm) ": state is field 3; utime 14, stime 15, rss 24 (1-based in proc(5)).
  if (fields.size() < 22) return st;
  const uint64_t tick100ns = 10000000 / 100;  // USER_HZ is 100 on Linux
  st.user100ns = std::stoull(fields[11]) * tick100ns;
  st.kernel100ns = std::stoull(fields[12]) * tick100ns;
  st.rssBytes = std::stoull(fields[21]) * 4096;
  st.ok = true;
  return st;
}

const std::set<std::string>& knownPropertyTypes() {
  static const std::set<std::string> k = {"Memory", "GuestMemory", "Statistics", "ProcessList",
                                          "TerminateOnLastHandleClosed", "SharedMemoryRegion", "GuestConnection",
                                          "ICHeartbeatStatus", "ProcessorTopology", "CpuGroup", "SystemGUID",
                                          schema::kConfigurationPropertyType};
  return k;
}

std::vector<std::string> splitPath(const std::string& p) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : p) {
    if (c == '/') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  parts.push_back(cur);
  return parts;
}

std::optional<uint32_t> parseIndex(const std::string& s, uint32_t max) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v >= max) return std::nullopt;
  return v;
}

}  // namespace

FakeHcsService::FakeHcsService(runtime::Runtime& rt, std::unique_ptr<VmBackend> vmBackend,
                               std::unique_ptr<Freezer> freezer)
    : rt_(rt), vm_(vmBackend ? std::move(vmBackend) : std::make_unique<NoGuestBackend>()), freezer_(std::move(freezer)) {
  vm_->setExitHandler([this](const std::string& id, HResult status) {
    auto it = systems_.find(id);
    if (it != systems_.end()) stopSystem(it->second, status == hr::kOk ? "GracefulExit" : "UnexpectedExit", status);
  });
  vm_->setProcessExitHandler([this](const std::string& id, uint32_t pid, int code) {
    auto it = systems_.find(id);
    if (it == systems_.end()) return;
    auto p = it->second->processes.find(pid);
    if (p != it->second->processes.end()) processExited(p->second, runtime::ExitStatus{code, 0});
  });
}

FakeHcsService::~FakeHcsService() {
  for (auto& [id, s] : systems_) {
    for (auto& [pid, p] : s->processes) {
      if (p->proc && !p->exit) (void)p->proc->signal(SIGKILL);
    }
  }
}

Task<void> FakeHcsService::settle() { co_await runtime::yield(rt_.loop()); }

Status FakeHcsService::checkState(const SystemRecord& s, const char* op,
                                  std::initializer_list<SystemState> allowed) const {
  for (auto a : allowed) {
    if (s.state == a) return OkStatus();
  }
  return hcsError(hr::kHcsInvalidState, op, s.id,
                  std::string("the operation is not valid in state ") + stateName(s.state));
}

void FakeHcsService::notifySystem(const std::shared_ptr<SystemRecord>& s, hcs::Event e) {
  for (auto& [key, cb] : s->callbacks) {
    if (!cb) continue;
    rt_.loop().post([cb, e] { cb(e); });
  }
}

void FakeHcsService::stopSystem(const std::shared_ptr<SystemRecord>& s, const std::string& exitType, HResult status) {
  if (s->state == SystemState::kStopped) return;
  s->state = SystemState::kStopped;
  s->exitType = exitType;
  s->exitStatus = status;
  // A process frozen by the v1 freezer does not die until thawed.
  if (freezer_ && !s->cgroups.empty()) freezer_->thawNow(s->id);
  if (s->init && !s->init->exitStatus()) (void)s->init->signal(SIGKILL);
  for (auto& [pid, p] : s->processes) {
    if (p->proc && !p->exit) (void)p->proc->signal(SIGKILL);
    // Guest processes die with their VM.
    if (!p->proc && !p->exit) processExited(p, runtime::ExitStatus{137, SIGKILL});
  }
  if (s->doc.virtualMachine && !s->guestStopRequested) {
    s->guestStopRequested = true;
    // However the system stops (last handle closed, service shutdown, ...),
    // its guest goes too; stopping a guest that is already gone is a no-op.
    runtime::spawn([](VmBackend& vm, std::string id) -> Task<void> { (void)co_await vm.stop(id, false); }(*vm_, s->id));
  }
  HLOG(Info, "hcs_fake.system.exited").kv("id", s->id).kv("exit_type", exitType).hex("status", status);
  Json data = {{"Status", static_cast<int32_t>(status)}, {"ExitType", exitType}};
  notifySystem(s, hcs::Event{hcs::EventType::kSystemExited, jsonText(data)});
  if (s->handles.empty()) forget(s);
}

Status FakeHcsService::validate(const schema::ComputeSystem& doc, const std::string& id) const {
  const char* op = "CreateComputeSystem";
  if (doc.schemaVersion && doc.schemaVersion->major.value_or(0) != 2) {
    return hcsError(hr::kHcsInvalidJson, op, id, "SchemaVersion.Major: only schema 2 is supported");
  }
  if (doc.container.has_value() == doc.virtualMachine.has_value()) {
    return hcsError(hr::kHcsInvalidJson, op, id, "exactly one of Container or VirtualMachine is required");
  }
  if (doc.hostingSystemId) {
    auto host = find(*doc.hostingSystemId);
    if (!host.ok()) return hcsError(hr::kHcsSystemNotFound, op, id, "HostingSystemId " + *doc.hostingSystemId + " does not exist");
    if ((*host)->systemType != "VirtualMachine" || (*host)->state != SystemState::kRunning) {
      return hcsError(hr::kHcsInvalidState, op, id, "hosting system " + *doc.hostingSystemId + " is not a running VM");
    }
  }
  if (doc.virtualMachine) {
    const auto& vm = *doc.virtualMachine;
    if (!vm.computeTopology || !vm.computeTopology->memory || !vm.computeTopology->memory->sizeInMB) {
      return hcsError(hr::kHcsInvalidJson, op, id, "VirtualMachine.ComputeTopology.Memory.SizeInMB is required");
    }
    uint64_t mb = *vm.computeTopology->memory->sizeInMB;
    if (mb < 64 || mb > 1024 * 1024) {
      return hcsError(hr::kInvalidArg, op, id,
                      "VirtualMachine.ComputeTopology.Memory.SizeInMB: " + std::to_string(mb) + " is outside 64..1048576");
    }
    if (vm.computeTopology->processor && vm.computeTopology->processor->count) {
      uint32_t n = *vm.computeTopology->processor->count;
      if (n < 1 || n > 1024) {
        return hcsError(hr::kInvalidArg, op, id,
                        "VirtualMachine.ComputeTopology.Processor.Count: " + std::to_string(n) + " is outside 1..1024");
      }
    }
    if (!vm.chipset || (!vm.chipset->linuxKernelDirect && !vm.chipset->uefi)) {
      return hcsError(hr::kHcsInvalidJson, op, id, "VirtualMachine.Chipset needs LinuxKernelDirect or Uefi");
    }
    if (const auto& lkd = vm.chipset->linuxKernelDirect) {
      if (!lkd->kernelFilePath || !fileExists(*lkd->kernelFilePath)) {
        return hcsError(hr::kFileNotFound, op, id,
                        "VirtualMachine.Chipset.LinuxKernelDirect.KernelFilePath: " + lkd->kernelFilePath.value_or("") +
                            " not found");
      }
      if (lkd->initRdPath && !fileExists(*lkd->initRdPath)) {
        return hcsError(hr::kFileNotFound, op, id,
                        "VirtualMachine.Chipset.LinuxKernelDirect.InitRdPath: " + *lkd->initRdPath + " not found");
      }
    }
    if (vm.devices) {
      for (const auto& [controller, scsi] : vm.devices->scsi) {
        for (const auto& [lun, a] : scsi.attachments) {
          std::string where = "VirtualMachine.Devices.Scsi." + controller + ".Attachments." + lun;
          if (!parseIndex(lun, 64)) return hcsError(hr::kInvalidArg, op, id, where + ": LUN must be 0..63");
          if (a.type.value_or("VirtualDisk") == "VirtualDisk" && !fileExists(a.path.value_or(""))) {
            return hcsError(hr::kFileNotFound, op, id, where + ".Path: " + a.path.value_or("") + " not found");
          }
        }
      }
    }
  }
  if (doc.container) {
    for (size_t i = 0; i < doc.container->mappedDirectories.size(); ++i) {
      const auto& md = doc.container->mappedDirectories[i];
      if (!fileExists(md.hostPath.value_or(""))) {
        return hcsError(hr::kFileNotFound, op, id,
                        "Container.MappedDirectories[" + std::to_string(i) + "].HostPath: " + md.hostPath.value_or("") +
                            " not found");
      }
    }
  }
  return OkStatus();
}

Task<StatusOr<std::shared_ptr<SystemRecord>>> FakeHcsService::create(std::string id, std::string configuration) {
  const char* op = "CreateComputeSystem";
  if (id.empty()) co_return hcsError(hr::kInvalidArg, op, id, "the compute system id is empty");
  if (id.size() > 256) co_return hcsError(hr::kInvalidArg, op, validUtf8(id.substr(0, 64)), "the compute system id is too long");
  if (validUtf8(id) != id || std::any_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    co_return hcsError(hr::kInvalidArg, op, validUtf8(id), "the compute system id must be printable UTF-8");
  }
  auto doc = schema::decode<schema::ComputeSystem>(std::string_view(configuration));
  if (!doc.ok()) co_return invalidJson(doc.status(), op, id);
  if (systems_.count(id)) co_return hcsError(hr::kHcsSystemAlreadyExists, op, id, "a compute system with this id exists");
  HCS_CO_RETURN_IF_ERROR(validate(*doc, id));
  auto s = std::make_shared<SystemRecord>();
  s->id = id;
  s->doc = std::move(*doc);
  s->systemType = s->doc.virtualMachine ? "VirtualMachine" : "Container";
  s->runtimeId = Guid::fromRandom(rt_.random().next(), rt_.random().next()).toString();
  s->terminateOnLastHandleClosed = s->doc.shouldTerminateOnLastHandleClosed.value_or(false);
  s->busy = true;
  systems_[id] = s;  // reserve the id while the creation is pending
  co_await settle();
  s->busy = false;
  HLOG(Info, "hcs_fake.system.created").kv("id", id).kv("type", s->systemType).kv("owner", s->doc.owner.value_or(""));
  co_return s;
}

StatusOr<std::shared_ptr<SystemRecord>> FakeHcsService::find(const std::string& id) const {
  auto it = systems_.find(id);
  if (it == systems_.end()) return hcsError(hr::kHcsSystemNotFound, "OpenComputeSystem", id, "no compute system with this id");
  return it->second;
}

Task<StatusOr<std::string>> FakeHcsService::enumerate(std::string query) {
  std::set<std::string> ids, types, owners;
  if (!query.empty()) {
    auto q = parseJson(query);
    if (!q.ok()) co_return invalidJson(q.status(), "EnumerateComputeSystems", "");
    auto collect = [&](const char* name, std::set<std::string>& out) -> Status {
      auto v = schema::decode<std::vector<std::string>>(q->contains(name) ? (*q)[name] : Json::array(), name);
      if (!v.ok()) return invalidJson(v.status(), "EnumerateComputeSystems", "");
      out.insert(v->begin(), v->end());
      return OkStatus();
    };
    if (!q->is_object()) co_return hcsError(hr::kHcsInvalidJson, "EnumerateComputeSystems", "", "query: want object");
    HCS_CO_RETURN_IF_ERROR(collect("Ids", ids));
    HCS_CO_RETURN_IF_ERROR(collect("Types", types));
    HCS_CO_RETURN_IF_ERROR(collect("Owners", owners));
  }
  co_await settle();
  Json out = Json::array();
  for (auto& [id, s] : systems_) {
    if (!ids.empty() && !ids.count(id)) continue;
    if (!types.empty() && !types.count(s->systemType)) continue;
    if (!owners.empty() && !owners.count(s->doc.owner.value_or(""))) continue;
    out.push_back({{"Id", id},
                   {"SystemType", s->systemType},
                   {"Owner", s->doc.owner.value_or("")},
                   {"RuntimeOsType", "Linux"},
                   {"RuntimeId", s->runtimeId},
                   {"State", stateName(s->state)}});
  }
  co_return jsonText(out);
}

Task<Status> FakeHcsService::start(std::shared_ptr<SystemRecord> s) {
  HCS_CO_RETURN_IF_ERROR(checkState(*s, "Start", {SystemState::kCreated}));
  if (s->busy) co_return hcsError(hr::kHcsInvalidState, "Start", s->id, "another operation is pending");
  s->busy = true;
  co_await settle();
  s->busy = false;
  // The system may have been terminated while the start was pending.
  if (s->state != SystemState::kCreated) {
    co_return hcsError(hr::kHcsTerminatedDuringStart, "Start", s->id, "the system stopped while starting");
  }
  if (s->doc.virtualMachine) {
    s->busy = true;
    Status booted = co_await vm_->start(s->id, *s->doc.virtualMachine);
    s->busy = false;
    if (!booted.ok()) {
      stopSystem(s, "UnexpectedExit", booted.hresult());
      co_return booted.withContext("Start", s->id);
    }
    if (s->state != SystemState::kCreated) {
      co_return hcsError(hr::kHcsTerminatedDuringStart, "Start", s->id, "the system stopped while starting");
    }
  }
  if (s->doc.container) startContainerInit(s);
  s->state = SystemState::kRunning;
  s->startWallNanos = rt_.loop().clock().wallNanos();
  s->startMono = rt_.loop().now();
  HLOG(Info, "hcs_fake.system.started").kv("id", s->id);
  co_return OkStatus();
}

void FakeHcsService::forget(const std::shared_ptr<SystemRecord>& s) {
  // Earlier leftovers that have been reaped since need no keeping.
  std::erase_if(dying_, [](const auto& p) { return p->exitStatus().has_value(); });
  std::erase_if(dyingProcesses_, [](const auto& p) { return p->proc->exitStatus().has_value(); });
  // The namespace holder may still be dying: keep it until it is reaped.
  if (s->init && !s->init->exitStatus()) dying_.push_back(std::move(s->init));
  for (auto& [pid, p] : s->processes) {
    if (p->proc && !p->proc->exitStatus()) dyingProcesses_.push_back(p);
  }
  if (freezer_ && !s->cgroups.empty()) runtime::spawn(freezer_->destroy(s->id));
  systems_.erase(s->id);
}

void FakeHcsService::startContainerInit(const std::shared_ptr<SystemRecord>& s) {
  if (freezer_) {
    auto dirs = freezer_->create(s->id);
    if (dirs.ok()) {
      s->cgroups = *dirs;
    } else {
      HLOG(Warn, "hcs_fake.container.no_freezer").kv("id", s->id).kv("err", dirs.status());
    }
  }
  runtime::ProcessSpec spec{.path = "sleep", .args = {"sleep", "infinity"}};
  spec.isolate = true;
  spec.cgroups = s->cgroups;
  auto init = rt_.processes().spawn(spec);
  if (!init.ok() || !(*init)->isolated()) {
    if (init.ok()) (void)(*init)->signal(SIGKILL);
    HLOG(Warn, "hcs_fake.container.unisolated").kv("id", s->id).kv("err", init.ok() ? OkStatus() : init.status());
    if (init.ok()) runtime::spawn([](std::unique_ptr<runtime::Process> p) -> Task<void> { (void)co_await p->wait(); }(std::move(*init)));
    return;
  }
  s->init = std::move(*init);
  HLOG(Debug, "hcs_fake.container.namespaces").kv("id", s->id).kv("init_pid", s->init->pid());
  // If the namespace holder dies, so does everything in it: the system exits.
  runtime::spawn([](FakeHcsService* self, std::weak_ptr<SystemRecord> weak) -> Task<void> {
    std::shared_ptr<SystemRecord> s = weak.lock();
    if (!s) co_return;
    runtime::Process* init = s->init.get();
    s.reset();
    (void)co_await init->wait();
    if (auto again = weak.lock(); again && again->state != SystemState::kStopped) {
      self->stopSystem(again, "UnexpectedExit", hr::kHcsUnexpectedExit);
    }
  }(this, s));
}

Task<Status> FakeHcsService::shutdown(std::shared_ptr<SystemRecord> s) {
  if (s->state == SystemState::kStopped) {
    co_return hcsError(hr::kHcsSystemAlreadyStopped, "Shutdown", s->id, "the system is already stopped");
  }
  HCS_CO_RETURN_IF_ERROR(checkState(*s, "Shutdown", {SystemState::kRunning, SystemState::kCreated}));
  // Graceful: ask every process to end, give them a moment, then stop.
  for (auto& [pid, p] : s->processes) {
    if (p->proc && !p->exit) (void)p->proc->signal(SIGTERM);
  }
  co_await settle();
  for (int i = 0; i < 50 && s->state != SystemState::kStopped; ++i) {
    bool alive = false;
    for (auto& [pid, p] : s->processes) alive = alive || (p->proc && !p->exit);
    if (!alive) break;
    co_await runtime::sleep(rt_.loop(), std::chrono::milliseconds(100));
  }
  if (s->doc.virtualMachine && s->state != SystemState::kStopped) {
    s->guestStopRequested = true;
    Status stopped = co_await vm_->stop(s->id, /*graceful=*/true);
    if (stopped.hresult() == hr::kHcsUnexpectedExit) {
      // The guest died instead of shutting down: HCS reports the crash.
      HLOG(Warn, "hcs_fake.shutdown.guest_crashed").kv("id", s->id).kv("error", stopped.message());
      stopSystem(s, "UnexpectedExit", hr::kHcsUnexpectedExit);
      co_return OkStatus();
    }
  }
  stopSystem(s, "GracefulExit", hr::kOk);
  co_return OkStatus();
}

Task<Status> FakeHcsService::terminate(std::shared_ptr<SystemRecord> s) {
  if (s->state == SystemState::kStopped) {
    co_return hcsError(hr::kHcsSystemAlreadyStopped, "Terminate", s->id, "the system is already stopped");
  }
  co_await settle();
  if (s->doc.virtualMachine && s->state != SystemState::kStopped) {
    s->guestStopRequested = true;
    (void)co_await vm_->stop(s->id, /*graceful=*/false);
  }
  stopSystem(s, "ForcedExit", hr::kOk);
  co_return OkStatus();
}

Task<Status> FakeHcsService::pause(std::shared_ptr<SystemRecord> s) {
  HCS_CO_RETURN_IF_ERROR(checkState(*s, "Pause", {SystemState::kRunning}));
  co_await settle();
  HCS_CO_RETURN_IF_ERROR(checkState(*s, "Pause", {SystemState::kRunning}));
  if (s->doc.virtualMachine) {
    HCS_CO_RETURN_IF_ERROR((co_await vm_->pause(s->id)).withContext("Pause", s->id));
  } else {
    // Every process of the container and every descendant: its freezer group.
    if (!freezer_ || s->cgroups.empty()) {
      co_return hcsError(hr::kNotImpl, "Pause", s->id,
                         "this fake HCS cannot freeze the container's processes (no cgroup freezer: run it as root)");
    }
    Status frozen = co_await freezer_->freeze(s->id);
    if (!frozen.ok()) {
      freezer_->thawNow(s->id);  // nothing half-frozen is left behind
      co_return hcsError(hr::kFail, "Pause", s->id, frozen.message());
    }
  }
  s->state = SystemState::kPaused;
  co_return OkStatus();
}

Task<Status> FakeHcsService::resume(std::shared_ptr<SystemRecord> s) {
  HCS_CO_RETURN_IF_ERROR(checkState(*s, "Resume", {SystemState::kPaused}));
  co_await settle();
  HCS_CO_RETURN_IF_ERROR(checkState(*s, "Resume", {SystemState::kPaused}));
  if (s->doc.virtualMachine) {
    HCS_CO_RETURN_IF_ERROR((co_await vm_->resume(s->id)).withContext("Resume", s->id));
  } else if (freezer_ && !s->cgroups.empty()) {
    Status thawed = co_await freezer_->thaw(s->id);
    if (!thawed.ok()) co_return hcsError(hr::kFail, "Resume", s->id, thawed.message());
  }
  s->state = SystemState::kRunning;
  s->saved = false;
  co_return OkStatus();
}

Task<Status> FakeHcsService::save(std::shared_ptr<SystemRecord> s, std::string options) {
  HCS_CO_RETURN_IF_ERROR(checkState(*s, "Save", {SystemState::kPaused}));
  if (!options.empty()) {
    auto o = parseJson(options);
    if (!o.ok()) co_return invalidJson(o.status(), "Save", s->id);
  }
  co_await settle();
  s->saved = true;
  co_return OkStatus();
}

Task<StatusOr<std::string>> FakeHcsService::properties(std::shared_ptr<SystemRecord> s, std::string query) {
  const char* op = "GetProperties";
  schema::PropertyQuery q;
  if (!query.empty()) {
    auto d = schema::decode<schema::PropertyQuery>(std::string_view(query));
    if (!d.ok()) co_return invalidJson(d.status(), op, s->id);
    q = std::move(*d);
  }
  for (size_t i = 0; i < q.propertyTypes.size(); ++i) {
    if (!knownPropertyTypes().count(q.propertyTypes[i])) {
      co_return hcsError(hr::kHcsInvalidJson, op, s->id,
                         "PropertyTypes[" + std::to_string(i) + "]: unknown property type \"" + q.propertyTypes[i] + "\"");
    }
  }
  co_await settle();
  schema::Properties p;
  p.id = s->id;
  p.systemType = s->systemType;
  p.runtimeOsType = "Linux";
  p.owner = s->doc.owner.value_or("");
  p.runtimeId = s->runtimeId;
  p.state = stateName(s->state);
  if (s->doc.hostingSystemId) p.hostingSystemId = *s->doc.hostingSystemId;
  if (s->state == SystemState::kStopped) {
    p.stopped = true;
    p.exitType = s->exitType;
  }
  for (const auto& t : q.propertyTypes) {
    if (t == "ProcessList") {
      for (auto& [pid, pr] : s->processes) {
        if (pr->exit) continue;
        schema::ProcessDetails d;
        d.processId = pid;
        d.imageName = pr->imageName;
        d.createTimestamp = log::formatTime(pr->createdWallNanos);
        ProcStat st = readProcStat(static_cast<int>(pid));
        if (st.ok) {
          d.userTime100ns = st.user100ns;
          d.kernelTime100ns = st.kernel100ns;
          d.memoryWorkingSetPrivateBytes = st.rssBytes;
        }
        p.processList.push_back(std::move(d));
      }
    } else if (t == "Statistics") {
      schema::Statistics st;
      st.timestamp = log::formatTime(rt_.loop().clock().wallNanos());
      if (s->startWallNanos) {
        st.containerStartTime = log::formatTime(s->startWallNanos);
        st.uptime100ns = static_cast<uint64_t>((rt_.loop().now() - s->startMono).count() / 100);
      }
      schema::ProcessorStats cpu{0, 0, 0, {}};
      schema::MemoryStats mem{0, 0, 0, {}};
      for (auto& [pid, pr] : s->processes) {
        if (pr->exit) continue;
        ProcStat ps = readProcStat(static_cast<int>(pid));
        if (!ps.ok) continue;
        *cpu.runtimeUser100ns += ps.user100ns;
        *cpu.runtimeKernel100ns += ps.kernel100ns;
        *mem.memoryUsagePrivateWorkingSetBytes += ps.rssBytes;
      }
      cpu.totalRuntime100ns = *cpu.runtimeUser100ns + *cpu.runtimeKernel100ns;
      mem.memoryUsageCommitBytes = *mem.memoryUsagePrivateWorkingSetBytes;
      mem.memoryUsageCommitPeakBytes = *mem.memoryUsagePrivateWorkingSetBytes;
      st.processor = cpu;
      st.memory = mem;
      p.statistics = st;
    } else if (t == "TerminateOnLastHandleClosed") {
      p.terminateOnLastHandleClosed = s->terminateOnLastHandleClosed;
    } else if (t == "SystemGUID") {
      p.systemGuid = s->runtimeId;
    } else if (t == schema::kConfigurationPropertyType) {
      // Fake extension: the system's document as it stands now, every
      // Modify (hot-added devices, shares, sizes) applied.
      p.configuration = schema::encode(s->doc);
    } else {
      co_return hcsError(hr::kNotImpl, op, s->id, "property type \"" + t + "\" is not implemented by the fake HCS");
    }
  }
  co_return jsonText(schema::encode(p));
}

Status FakeHcsService::applyModify(SystemRecord& s, const schema::ModifySettingRequest& req) {
  const char* op = "Modify";
  const std::string& path = *req.resourcePath;
  const std::string type = req.requestType.value_or("");
  if (type != "Add" && type != "Remove" && type != "Update" && type != "PreAdd") {
    return hcsError(hr::kHcsInvalidJson, op, s.id, "RequestType: want Add, Remove, Update or PreAdd, got \"" + type + "\"");
  }
  auto parts = splitPath(path);
  auto bad = [&](const std::string& why) { return hcsError(hr::kInvalidArg, op, s.id, "ResourcePath " + path + ": " + why); };
  auto needVm = [&]() -> Status {
    if (!s.doc.virtualMachine) return bad("the system is not a virtual machine");
    if (!s.doc.virtualMachine->devices) s.doc.virtualMachine->devices.emplace();
    return OkStatus();
  };
  auto settingsAs = [&]<typename T>(T& out) -> Status {
    auto d = schema::decode<T>(req.settings, "Settings");
    if (!d.ok()) return invalidJson(d.status(), op, s.id);
    out = std::move(*d);
    return OkStatus();
  };
  if (parts.size() == 6 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "Scsi" &&
      parts[4] == "Attachments") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& scsi = s.doc.virtualMachine->devices->scsi;
    auto ctl = scsi.find(parts[3]);
    if (ctl == scsi.end()) return hcsError(hr::kElementNotFound, op, s.id, "SCSI controller " + parts[3] + " does not exist");
    if (!parseIndex(parts[5], 64)) return bad("LUN must be 0..63");
    auto& atts = ctl->second.attachments;
    if (type == "Remove") {
      if (!atts.erase(parts[5])) return hcsError(hr::kElementNotFound, op, s.id, "nothing attached at " + path);
      return OkStatus();
    }
    schema::Attachment a;
    HCS_RETURN_IF_ERROR(settingsAs(a));
    if (!fileExists(a.path.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.Path: " + a.path.value_or("") + " not found");
    if (type == "Add" && atts.count(parts[5])) return hcsError(hr::kAlreadyExists, op, s.id, "LUN " + parts[5] + " is in use");
    atts[parts[5]] = std::move(a);
    return OkStatus();
  }
  if (parts.size() >= 5 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "VirtualPMem" &&
      parts[3] == "Devices") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& vp = s.doc.virtualMachine->devices->virtualPMem;
    if (!vp) return bad("the VM has no VirtualPMem controller");
    uint32_t max = vp->maximumCount.value_or(64);
    if (!parseIndex(parts[4], max)) return bad("device number must be below MaximumCount " + std::to_string(max));
    if (parts.size() == 5) {
      if (type == "Remove") {
        if (!vp->devices.erase(parts[4])) return hcsError(hr::kElementNotFound, op, s.id, "no VPMem device " + parts[4]);
        return OkStatus();
      }
      schema::VirtualPMemDevice d;
      HCS_RETURN_IF_ERROR(settingsAs(d));
      if (!fileExists(d.hostPath.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.HostPath: " + d.hostPath.value_or("") + " not found");
      if (type == "Add" && vp->devices.count(parts[4])) return hcsError(hr::kAlreadyExists, op, s.id, "VPMem device " + parts[4] + " is in use");
      vp->devices[parts[4]] = std::move(d);
      return OkStatus();
    }
    if (parts.size() == 7 && parts[5] == "Mappings") {
      auto dev = vp->devices.find(parts[4]);
      if (dev == vp->devices.end()) return hcsError(hr::kElementNotFound, op, s.id, "no VPMem device " + parts[4]);
      if (!parseIndex(parts[6], 1u << 20)) return bad("bad mapping index");
      if (type == "Remove") {
        if (!dev->second.mappings.erase(parts[6])) return hcsError(hr::kElementNotFound, op, s.id, "no mapping " + parts[6]);
        return OkStatus();
      }
      schema::VirtualPMemMapping m;
      HCS_RETURN_IF_ERROR(settingsAs(m));
      dev->second.mappings[parts[6]] = std::move(m);
      return OkStatus();
    }
    return bad("unknown VirtualPMem resource");
  }
  if (parts.size() == 4 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "NetworkAdapters") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& nics = s.doc.virtualMachine->devices->networkAdapters;
    if (type == "Remove") {
      if (!nics.erase(parts[3])) return hcsError(hr::kElementNotFound, op, s.id, "no network adapter " + parts[3]);
      return OkStatus();
    }
    schema::NetworkAdapter n;
    HCS_RETURN_IF_ERROR(settingsAs(n));
    if (!n.endpointId) return hcsError(hr::kHcsInvalidJson, op, s.id, "Settings.EndpointId is required");
    if (type == "Add" && nics.count(parts[3])) return hcsError(hr::kAlreadyExists, op, s.id, "network adapter " + parts[3] + " exists");
    nics[parts[3]] = std::move(n);
    return OkStatus();
  }
  if (path == "VirtualMachine/Devices/Plan9/Shares") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& p9 = s.doc.virtualMachine->devices->plan9;
    if (!p9) p9.emplace();
    schema::Plan9Share share;
    HCS_RETURN_IF_ERROR(settingsAs(share));
    if (!share.name || share.name->empty()) return hcsError(hr::kHcsInvalidJson, op, s.id, "Settings.Name is required");
    auto it = std::find_if(p9->shares.begin(), p9->shares.end(), [&](const auto& x) { return x.name == share.name; });
    if (type == "Remove") {
      if (it == p9->shares.end()) return hcsError(hr::kElementNotFound, op, s.id, "no Plan9 share " + *share.name);
      p9->shares.erase(it);
      return OkStatus();
    }
    if (!fileExists(share.path.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.Path: " + share.path.value_or("") + " not found");
    if (it != p9->shares.end()) return hcsError(hr::kAlreadyExists, op, s.id, "Plan9 share " + *share.name + " exists");
    p9->shares.push_back(std::move(share));
    return OkStatus();
  }
  if (parts.size() == 6 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "HvSocket" &&
      parts[3] == "HvSocketConfig" && parts[4] == "ServiceTable") {
    HCS_RETURN_IF_ERROR(needVm());
    if (!Guid::parse(parts[5]).ok()) return bad("service id is not a GUID");
    auto& hv = s.doc.virtualMachine->devices->hvSocket;
    if (!hv) hv.emplace();
    if (!hv->hvSocketConfig) hv->hvSocketConfig.emplace();
    if (type == "Remove") {
      hv->hvSocketConfig->serviceTable.erase(parts[5]);
      return OkStatus();
    }
    schema::HvSocketServiceConfig c;
    HCS_RETURN_IF_ERROR(settingsAs(c));
    hv->hvSocketConfig->serviceTable[parts[5]] = std::move(c);
    return OkStatus();
  }
  if (path == "VirtualMachine/ComputeTopology/Memory/SizeInMB" || path == "Container/Memory/SizeInMB") {
    if (type != "Update") return bad("only Update is valid");
    uint64_t mb = 0;
    HCS_RETURN_IF_ERROR(settingsAs(mb));
    if (mb < 64) return hcsError(hr::kInvalidArg, op, s.id, "Settings: " + std::to_string(mb) + " MB is below the 64 MB minimum");
    if (parts[0] == "VirtualMachine") {
      if (!s.doc.virtualMachine) return bad("the system is not a virtual machine");
      s.doc.virtualMachine->computeTopology->memory->sizeInMB = mb;
    } else {
      if (!s.doc.container) return bad("the system is not a container");
      if (!s.doc.container->memory) s.doc.container->memory.emplace();
      s.doc.container->memory->sizeInMB = mb;
    }
    return OkStatus();
  }
  if (path == "Container/MappedDirectories") {
    if (!s.doc.container) return bad("the system is not a container");
    schema::MappedDirectory md;
    HCS_RETURN_IF_ERROR(settingsAs(md));
    auto& list = s.doc.container->mappedDirectories;
    auto it = std::find_if(list.begin(), list.end(), [&](const auto& x) { return x.containerPath == md.containerPath; });
    if (type == "Remove") {
      if (it == list.end()) return hcsError(hr::kElementNotFound, op, s.id, "no mapped directory at " + md.containerPath.value_or(""));
      list.erase(it);
      return OkStatus();
    }
    if (!fileExists(md.hostPath.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.HostPath: " + md.hostPath.value_or("") + " not found");
    if (it != list.end()) return hcsError(hr::kAlreadyExists, op, s.id, "a directory is mapped at " + md.containerPath.value_or(""));
    list.push_back(std::move(md));
    return OkStatus();
  }
  if (path == "Container/Processor" || path == "VirtualMachine/ComputeTopology/Processor/CpuGroup" ||
      path == "VirtualMachine/ComputeTopology/Processor/Limits") {
    if (type != "Update") return bad("only Update is valid");
    if (!req.settings.is_object()) return hcsError(hr::kHcsInvalidJson, op, s.id, "Settings: want object");
    return OkStatus();
  }
  static const char* kOpaque[] = {"VirtualMachine/Devices/VirtualSmb/Shares", "VirtualMachine/Devices/MappedPipes/",
                                  "VirtualMachine/Devices/VirtualPci/", "VirtualMachine/Devices/ComPorts/"};
  for (const char* prefix : kOpaque) {
    if (path.starts_with(prefix)) {
      HCS_RETURN_IF_ERROR(needVm());
      return OkStatus();  // accepted; these devices have no effect in the fake
    }
  }
  return bad("unknown resource path");
}

Task<Status> FakeHcsService::modify(std::shared_ptr<SystemRecord> s, std::string settings) {
  const char* op = "Modify";
  auto req = schema::decode<schema::ModifySettingRequest>(std::string_view(settings));
  if (!req.ok()) co_return invalidJson(req.status(), op, s->id);
  bool preAdd = req->requestType.value_or("") == "PreAdd";
  HCS_CO_RETURN_IF_ERROR(preAdd ? checkState(*s, op, {SystemState::kCreated})
                                : checkState(*s, op, {SystemState::kRunning, SystemState::kPaused}));
  if (!req->resourcePath && req->guestRequest.is_null()) {
    co_return hcsError(hr::kHcsInvalidJson, op, s->id, "one of ResourcePath or GuestRequest is required");
  }
  if (!req->guestRequest.is_null() && !s->doc.virtualMachine) {
    co_return hcsError(hr::kInvalidArg, op, s->id, "GuestRequest is only valid for a virtual machine");
  }
  co_await settle();
  if (req->resourcePath) {
    // Validate and record on a copy: a request the backend refuses changes nothing.
    schema::ComputeSystem before = s->doc;
    HCS_CO_RETURN_IF_ERROR(applyModify(*s, *req));
    if (s->doc.virtualMachine) {
      Status applied = co_await vm_->modify(s->id, *req);
      if (!applied.ok()) {
        s->doc = std::move(before);
        co_return applied.withContext(op, s->id);
      }
    }
  } else {
    HCS_CO_RETURN_IF_ERROR((co_await vm_->modify(s->id, *req)).withContext(op, s->id));
  }
  HLOG(Info, "hcs_fake.system.modified").kv("id", s->id).kv("path", req->resourcePath.value_or("(guest)")).kv("type", req->requestType.value_or(""));
  co_return OkStatus();
}

Task<StatusOr<hcs::CreatedProcess>> FakeHcsService::createProcess(std::shared_ptr<SystemRecord> s, std::string parameters,
                                                                  std::shared_ptr<ProcessRecord>* record) {
  const char* op = "CreateProcess";
  auto params = schema::decode<schema::ProcessParameters>(std::string_view(parameters));
  if (!params.ok()) co_return invalidJson(params.status(), op, s->id);
  HCS_CO_RETURN_IF_ERROR(checkState(*s, op, {SystemState::kRunning}));
  if (s->systemType == "VirtualMachine") {
    // The guest runs it; the service keeps the record and the notifications.
    auto created = co_await vm_->createProcess(s->id, *params);
    if (!created.ok()) co_return created.status().withContext(op, s->id);
    auto p = std::make_shared<ProcessRecord>();
    p->system = s;
    p->systemId = s->id;
    p->pid = created->pid;
    p->imageName = params->commandArgs.empty() ? "" : params->commandArgs[0].substr(params->commandArgs[0].rfind('/') + 1);
    p->createdWallNanos = rt_.loop().clock().wallNanos();
    p->console = params->emulateConsole.value_or(false);
    s->processes[p->pid] = p;
    *record = p;
    co_return std::move(*created);
  }
  std::vector<std::string> args = params->commandArgs;
  if (args.empty() && params->commandLine && !params->commandLine->empty()) {
    args = {"/bin/sh", "-c", *params->commandLine};
  }
  if (args.empty()) co_return hcsError(hr::kInvalidArg, op, s->id, "CommandLine or CommandArgs is required");
  bool console = params->emulateConsole.value_or(false);
  if (!params->consoleSize.empty() && params->consoleSize.size() != 2) {
    co_return hcsError(hr::kInvalidArg, op, s->id, "ConsoleSize: want [height, width]");
  }
  runtime::ProcessSpec spec;
  spec.path = args[0];
  spec.args = args;
  std::map<std::string, std::string> env = params->environment;
  if (!env.count("PATH")) env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  spec.env = env;
  spec.cwd = params->workingDirectory.value_or("");
  spec.stdinMode = params->createStdInPipe.value_or(false) ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull;
  spec.stdoutMode = params->createStdOutPipe.value_or(false) ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull;
  spec.stderrMode = params->createStdErrPipe.value_or(false) ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull;
  spec.newSession = true;
  spec.cgroups = s->cgroups;  // a pause freezes it and everything it starts
  if (s->init) spec.joinNamespacesOf = s->init->pid();
  if (console) {
    // One terminal: stdin and stdout are its two directions; stderr joins stdout.
    spec.terminal = true;
    if (params->consoleSize.size() == 2) {
      spec.terminalRows = params->consoleSize[0];
      spec.terminalColumns = params->consoleSize[1];
    }
  }
  co_await settle();
  if (s->state != SystemState::kRunning) co_return checkState(*s, op, {SystemState::kRunning});
  auto proc = rt_.processes().spawn(spec);
  if (!proc.ok()) {
    HResult code = proc.status().code() == Code::kNotFound ? hr::kFileNotFound : hr::kFail;
    co_return hcsError(code, op, s->id, "cannot start " + args[0] + ": " + proc.status().message());
  }
  auto p = std::make_shared<ProcessRecord>();
  p->system = s;
  p->systemId = s->id;
  p->pid = static_cast<uint32_t>((*proc)->pid());
  p->imageName = args[0].substr(args[0].rfind('/') + 1);
  p->createdWallNanos = rt_.loop().clock().wallNanos();
  p->consoleSize = params->consoleSize;
  p->console = console;
  p->proc = std::move(*proc);
  hcs::CreatedProcess out;
  out.pid = p->pid;
  std::unique_ptr<runtime::Stream>* outs[3] = {&out.stdinStream, &out.stdoutStream, &out.stderrStream};
  if (console) {
    auto end = std::make_shared<SharedStream::End>();
    end->stream = std::shared_ptr<runtime::Stream>(p->proc->takeStdio(3));
    if (params->createStdInPipe.value_or(false)) {
      p->stdio[0] = end->stream;
      out.stdinStream = std::make_unique<SharedStream>(end);
    }
    if (params->createStdOutPipe.value_or(false)) {
      p->stdio[1] = end->stream;
      out.stdoutStream = std::make_unique<SharedStream>(end);
    }
    if (end->handles == 0) end->stream->close();  // nobody wants the terminal
  } else {
    for (int i = 0; i < 3; ++i) {
      auto taken = p->proc->takeStdio(i);
      if (!taken) continue;
      auto end = std::make_shared<SharedStream::End>();
      end->stream = std::shared_ptr<runtime::Stream>(std::move(taken));
      p->stdio[i] = end->stream;
      *outs[i] = std::make_unique<SharedStream>(end);
    }
  }
  s->processes[p->pid] = p;
  HLOG(Info, "hcs_fake.process.created").kv("id", s->id).kv("pid", p->pid).kv("image", p->imageName);
  runtime::spawn(watchProcess(p));
  *record = p;
  co_return out;
}

Task<void> FakeHcsService::watchProcess(std::shared_ptr<ProcessRecord> p) {
  runtime::ExitStatus st = co_await p->proc->wait();
  processExited(p, st);
}

void FakeHcsService::processExited(const std::shared_ptr<ProcessRecord>& p, runtime::ExitStatus st) {
  if (p->exit) return;
  p->exit = st;
  HLOG(Info, "hcs_fake.process.exited").kv("id", p->systemId).kv("pid", p->pid).kv("exit_code", st.exitCode);
  schema::ProcessStatus ps;
  ps.processId = p->pid;
  ps.exited = true;
  ps.exitCode = static_cast<uint32_t>(st.exitCode);
  hcs::Event e{hcs::EventType::kProcessExited, jsonText(schema::encode(ps))};
  for (auto& [key, cb] : p->callbacks) {
    if (cb) rt_.loop().post([cb, e] { cb(e); });
  }
}

Status FakeHcsService::deliverSignal(const std::shared_ptr<ProcessRecord>& p, int sig, const char* op) {
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  if (p->exit) return hcsError(hr::kHcsProcessAlreadyStopped, op, id, "the process has exited");
  if (!p->proc) return OkStatus();  // a guest process: the caller asks the backend
  Status st = p->proc->signal(sig);
  if (!st.ok()) return hcsError(hr::kHcsProcessAlreadyStopped, op, id, st.message());
  return OkStatus();
}

StatusOr<std::shared_ptr<ProcessRecord>> FakeHcsService::findProcess(const std::shared_ptr<SystemRecord>& s,
                                                                     uint32_t pid) const {
  auto it = s->processes.find(pid);
  if (it == s->processes.end()) {
    return hcsError(hr::kElementNotFound, "OpenProcess", s->id, "no process " + std::to_string(pid));
  }
  return it->second;
}

Task<Status> FakeHcsService::signalProcess(std::shared_ptr<ProcessRecord> p, std::string options) {
  const char* op = "SignalProcess";
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  auto j = parseJson(options);
  if (!j.ok()) co_return invalidJson(j.status(), op, id);
  int sig = 0;
  if (!j->is_object() || !j->contains("Signal")) co_return hcsError(hr::kHcsInvalidJson, op, id, "Signal is required");
  const Json& v = (*j)["Signal"];
  if (v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    if (n <= 0 || n > 64) co_return hcsError(hr::kInvalidArg, op, id, "Signal: " + std::to_string(n) + " is not a signal number");
    sig = static_cast<int>(n);
  } else if (v.is_string()) {
    static const std::map<std::string, int> kCtrl = {{"CtrlC", SIGINT}, {"CtrlBreak", SIGQUIT}, {"CtrlClose", SIGHUP},
                                                     {"CtrlLogOff", SIGTERM}, {"CtrlShutdown", SIGTERM}};
    auto it = kCtrl.find(v.get<std::string>());
    if (it == kCtrl.end()) co_return hcsError(hr::kInvalidArg, op, id, "Signal: unknown \"" + v.get<std::string>() + "\"");
    sig = it->second;
  } else {
    co_return hcsError(hr::kHcsInvalidJson, op, id, "Signal: want integer or string, got " + jsonTypeName(v));
  }
  co_await settle();
  HCS_CO_RETURN_IF_ERROR(deliverSignal(p, sig, op));
  if (!p->proc) co_return (co_await vm_->signalProcess(p->systemId, p->pid, sig)).withContext(op, id);
  co_return OkStatus();
}

Task<Status> FakeHcsService::terminateProcess(std::shared_ptr<ProcessRecord> p) {
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  co_await settle();
  HCS_CO_RETURN_IF_ERROR(deliverSignal(p, SIGKILL, "TerminateProcess"));
  if (!p->proc) co_return (co_await vm_->signalProcess(p->systemId, p->pid, SIGKILL)).withContext("TerminateProcess", id);
  co_return OkStatus();
}

Task<StatusOr<std::string>> FakeHcsService::processProperties(std::shared_ptr<ProcessRecord> p) {
  co_await settle();
  schema::ProcessStatus ps;
  ps.processId = p->pid;
  ps.exited = p->exit.has_value();
  // Until exit HCS reports the exit code as -1 (0xFFFFFFFF).
  ps.exitCode = p->exit ? static_cast<uint32_t>(p->exit->exitCode) : 0xFFFFFFFFu;
  ps.lastWaitResult = 0;
  co_return jsonText(schema::encode(ps));
}

Task<Status> FakeHcsService::modifyProcess(std::shared_ptr<ProcessRecord> p, std::string settings) {
  const char* op = "ModifyProcess";
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  auto j = parseJson(settings);
  if (!j.ok()) co_return invalidJson(j.status(), op, id);
  auto operation = jsonField<std::string>(*j, "Operation");
  if (!operation.ok()) co_return invalidJson(operation.status(), op, id);
  co_await settle();
  if (*operation == "ConsoleSize") {
    if (!j->contains("ConsoleSize")) co_return hcsError(hr::kHcsInvalidJson, op, id, "ConsoleSize is required");
    auto h = jsonField<uint16_t>((*j)["ConsoleSize"], "Height");
    auto w = jsonField<uint16_t>((*j)["ConsoleSize"], "Width");
    if (!h.ok()) co_return invalidJson(h.status(), op, id);
    if (!w.ok()) co_return invalidJson(w.status(), op, id);
    if (!p->console) co_return hcsError(hr::kInvalidHandle, op, id, "the process has no console");
    if (p->exit) co_return hcsError(hr::kHcsProcessAlreadyStopped, op, id, "the process has exited");
    if (!p->proc) co_return hcsError(hr::kNotImpl, op, id, "resizing a guest console is not implemented yet");
    Status st = p->proc->resizeTerminal(*h, *w);
    if (!st.ok()) co_return hcsError(hr::kFail, op, id, st.message());
    p->consoleSize = {*h, *w};
    co_return OkStatus();
  }
  if (*operation == "CloseHandle") {
    if (!j->contains("CloseHandle")) co_return hcsError(hr::kHcsInvalidJson, op, id, "CloseHandle is required");
    auto handle = jsonField<std::string>((*j)["CloseHandle"], "Handle");
    if (!handle.ok()) co_return invalidJson(handle.status(), op, id);
    int which = *handle == "StdIn" ? 0 : *handle == "StdOut" ? 1 : *handle == "StdErr" ? 2 : *handle == "All" ? 3 : -1;
    if (which < 0) co_return hcsError(hr::kInvalidArg, op, id, "CloseHandle.Handle: unknown \"" + *handle + "\"");
    for (int i = 0; i < 3; ++i) {
      if ((which == i || which == 3) && p->stdio[i]) {
        if (i == 0) {
          (void)p->stdio[i]->shutdownWrite();
        } else {
          p->stdio[i]->close();
        }
      }
    }
    co_return OkStatus();
  }
  co_return hcsError(hr::kInvalidArg, op, id, "Operation: unknown \"" + *operation + "\"");
}

void FakeHcsService::addHandle(const std::shared_ptr<SystemRecord>& s, uint64_t key) { s->handles.insert(key); }

void FakeHcsService::removeHandle(const std::shared_ptr<SystemRecord>& s, uint64_t key) {
  s->handles.erase(key);
  s->callbacks.erase(key);
  if (!s->handles.empty()) return;
  if (s->state == SystemState::kStopped) {
    forget(s);
  } else if (s->terminateOnLastHandleClosed) {
    HLOG(Info, "hcs_fake.system.last_handle_closed").kv("id", s->id);
    stopSystem(s, "ForcedExit", hr::kOk);
    forget(s);
  }
}

void FakeHcsService::setSystemCallback(const std::shared_ptr<SystemRecord>& s, uint64_t key, hcs::EventCallback cb) {
  s->callbacks[key] = std::move(cb);
}

void FakeHcsService::setProcessCallback(const std::shared_ptr<ProcessRecord>& p, uint64_t key, hcs::EventCallback cb) {
  p->callbacks[key] = std::move(cb);
}

void FakeHcsService::removeProcessHandle(const std::shared_ptr<ProcessRecord>& p, uint64_t key) {
  p->callbacks.erase(key);
}

Task<void> FakeHcsService::shutdownService() {
  auto systems = systems_;
  for (auto& [id, s] : systems) stopSystem(s, "ForcedExit", hr::kHcsServiceNotAvailable);
  // Wait until every process has been reaped, so nothing is left running or suspended.
  for (auto& [id, s] : systems) {
    for (auto& [pid, p] : s->processes) {
      if (p->proc && !p->exit) (void)co_await p->proc->wait();
    }
    if (s->init && !s->init->exitStatus()) (void)co_await s->init->wait();
  }
  for (auto& init : dying_) {
    if (!init->exitStatus()) (void)co_await init->wait();
  }
  dying_.clear();
  for (auto& p : dyingProcesses_) {
    if (!p->proc->exitStatus()) (void)co_await p->proc->wait();
  }
  dyingProcesses_.clear();
  co_await settle();
}

}  // namespace hcsshim::hcs_fake
