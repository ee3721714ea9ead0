#include "hcs_fake/service_internal.h"

namespace hcsshim::hcs_fake {

std::string stateName(SystemState s) {
  switch (s) {
    case SystemState::kCreated: return "Created";
    case SystemState::kRunning: return "Running";
    case SystemState::kPaused: return "Paused";
    case SystemState::kStopped: return "Stopped";
  }
  return "Unknown";
}

// ---- the compute system lifecycle, sessions and handles ----

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

Task<void> FakeHcsService::settle() {
  runtime::Duration late = faults_.operationDelay ? faults_.operationDelay() : runtime::Duration(0);
  if (late.count() > 0) {
    co_await runtime::sleep(rt_.loop(), late);
  } else {
    co_await runtime::yield(rt_.loop());
  }
}

void FakeHcsService::deliver(const std::function<void()>& delivery) {
  int copies = faults_.notificationCopies ? faults_.notificationCopies() : 1;
  for (int i = 0; i < copies; ++i) {
    runtime::Duration late = faults_.notificationDelay ? faults_.notificationDelay() : runtime::Duration(0);
    if (late.count() > 0) {
      rt_.loop().addTimer(late, delivery);
    } else {
      rt_.loop().post(delivery);
    }
  }
}

Status FakeHcsService::checkState(const SystemRecord& s, const char* op,
                                  std::initializer_list<SystemState> allowed) const {
  for (auto a : allowed) {
    if (s.state == a) return OkStatus();
  }
  return hcsError(hr::kHcsInvalidState, op, s.id,
                  std::string("the operation is not valid in state ") + stateName(s.state));
}

void FakeHcsService::notifySystem(const std::shared_ptr<SystemRecord>& s, hcs::Event e) {
  // Delivered to the handles still open when it arrives (HCS makes no
  // callback once a handle is closed).
  for (auto& [key, cb] : s->callbacks) {
    if (!cb) continue;
    deliver(toOpenHandle(s, key, e));
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
  if (freezer_ && !s->cgroups.empty()) freezer_->destroy(s->id);
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
