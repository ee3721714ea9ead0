#include "hcs_fake/records.h"
#include "hcs_fake/service.h"

namespace hcsshim::hcs_fake {

using runtime::Task;

namespace {
Status invalidHandle(const char* op, uint64_t h) {
  return Status::fromHResult(hresult::kInvalidHandle, op, std::to_string(h), "the handle is invalid");
}
}  // namespace

InProcessHcs::InProcessHcs(FakeHcsService& service) : service_(service), session_(service.newSessionId()) {}

InProcessHcs::~InProcessHcs() { closeAll(); }

void InProcessHcs::closeAll() {
  auto procs = processes_;
  for (auto& [h, p] : procs) closeProcess(h);
  auto systems = systems_;
  for (auto& [h, s] : systems) closeComputeSystem(h);
}

StatusOr<std::shared_ptr<SystemRecord>> InProcessHcs::system(hcs::SystemHandle h, const char* op) const {
  auto it = systems_.find(h);
  if (it == systems_.end()) return invalidHandle(op, h);
  return it->second;
}

StatusOr<std::shared_ptr<ProcessRecord>> InProcessHcs::process(hcs::ProcessHandle h, const char* op) const {
  auto it = processes_.find(h);
  if (it == processes_.end()) return invalidHandle(op, h);
  return it->second;
}

hcs::SystemHandle InProcessHcs::addSystemHandle(std::shared_ptr<SystemRecord> s) {
  hcs::SystemHandle h = nextHandle_++;
  // Handle keys are unique across sessions: session id in the high bits.
  service_.addHandle(s, session_ << 32 | h);
  systems_[h] = std::move(s);
  return h;
}

hcs::ProcessHandle InProcessHcs::addProcessHandle(std::shared_ptr<ProcessRecord> p) {
  hcs::ProcessHandle h = nextHandle_++;
  processes_[h] = std::move(p);
  return h;
}

Task<StatusOr<std::string>> InProcessHcs::enumerateComputeSystems(std::string query) {
  return service_.enumerate(std::move(query));
}

Task<StatusOr<hcs::SystemHandle>> InProcessHcs::createComputeSystem(std::string id, std::string configuration) {
  HCS_CO_ASSIGN_OR_RETURN(auto s, co_await service_.create(std::move(id), std::move(configuration)));
  co_return addSystemHandle(std::move(s));
}

Task<StatusOr<hcs::SystemHandle>> InProcessHcs::openComputeSystem(std::string id) {
  co_await runtime::yield(service_.runtime().loop());
  HCS_CO_ASSIGN_OR_RETURN(auto s, service_.find(id));
  co_return addSystemHandle(std::move(s));
}

#define HCS_SYSTEM_OP(method, serviceCall, opName)                                   \
  Task<Status> InProcessHcs::method(hcs::SystemHandle h, std::string options) {      \
    (void)options;                                                                   \
    HCS_CO_ASSIGN_OR_RETURN(auto s, system(h, opName));                              \
    co_return co_await serviceCall;                                                  \
  }

HCS_SYSTEM_OP(startComputeSystem, service_.start(s), "Start")
HCS_SYSTEM_OP(shutDownComputeSystem, service_.shutdown(s), "Shutdown")
HCS_SYSTEM_OP(terminateComputeSystem, service_.terminate(s), "Terminate")
HCS_SYSTEM_OP(pauseComputeSystem, service_.pause(s), "Pause")
HCS_SYSTEM_OP(resumeComputeSystem, service_.resume(s), "Resume")
HCS_SYSTEM_OP(saveComputeSystem, service_.save(s, options), "Save")
HCS_SYSTEM_OP(modifyComputeSystem, service_.modify(s, options), "Modify")
#undef HCS_SYSTEM_OP

Task<StatusOr<std::string>> InProcessHcs::getComputeSystemProperties(hcs::SystemHandle h, std::string query) {
  HCS_CO_ASSIGN_OR_RETURN(auto s, system(h, "GetProperties"));
  co_return co_await service_.properties(s, std::move(query));
}

Status InProcessHcs::setComputeSystemCallback(hcs::SystemHandle h, hcs::EventCallback callback) {
  HCS_ASSIGN_OR_RETURN(auto s, system(h, "SetCallback"));
  service_.setSystemCallback(s, session_ << 32 | h, std::move(callback));
  return OkStatus();
}

void InProcessHcs::closeComputeSystem(hcs::SystemHandle h) {
  auto it = systems_.find(h);
  if (it == systems_.end()) return;
  auto s = it->second;
  systems_.erase(it);
  service_.removeHandle(s, session_ << 32 | h);
}

Task<StatusOr<hcs::CreatedProcess>> InProcessHcs::createProcess(hcs::SystemHandle h, std::string parameters) {
  HCS_CO_ASSIGN_OR_RETURN(auto s, system(h, "CreateProcess"));
  std::shared_ptr<ProcessRecord> record;
  HCS_CO_ASSIGN_OR_RETURN(hcs::CreatedProcess created, co_await service_.createProcess(s, std::move(parameters), &record));
  created.handle = addProcessHandle(record);
  co_return created;
}

Task<StatusOr<hcs::ProcessHandle>> InProcessHcs::openProcess(hcs::SystemHandle h, uint32_t pid) {
  HCS_CO_ASSIGN_OR_RETURN(auto s, system(h, "OpenProcess"));
  co_await runtime::yield(service_.runtime().loop());
  HCS_CO_ASSIGN_OR_RETURN(auto p, service_.findProcess(s, pid));
  co_return addProcessHandle(std::move(p));
}

Task<Status> InProcessHcs::signalProcess(hcs::ProcessHandle h, std::string options) {
  HCS_CO_ASSIGN_OR_RETURN(auto p, process(h, "SignalProcess"));
  co_return co_await service_.signalProcess(p, std::move(options));
}

Task<Status> InProcessHcs::terminateProcess(hcs::ProcessHandle h) {
  HCS_CO_ASSIGN_OR_RETURN(auto p, process(h, "TerminateProcess"));
  co_return co_await service_.terminateProcess(p);
}

Task<StatusOr<std::string>> InProcessHcs::getProcessProperties(hcs::ProcessHandle h) {
  HCS_CO_ASSIGN_OR_RETURN(auto p, process(h, "GetProcessProperties"));
  co_return co_await service_.processProperties(p);
}

Task<Status> InProcessHcs::modifyProcess(hcs::ProcessHandle h, std::string settings) {
  HCS_CO_ASSIGN_OR_RETURN(auto p, process(h, "ModifyProcess"));
  co_return co_await service_.modifyProcess(p, std::move(settings));
}

Status InProcessHcs::setProcessCallback(hcs::ProcessHandle h, hcs::EventCallback callback) {
  HCS_ASSIGN_OR_RETURN(auto p, process(h, "SetProcessCallback"));
  service_.setProcessCallback(p, session_ << 32 | h, std::move(callback));
  return OkStatus();
}

void InProcessHcs::closeProcess(hcs::ProcessHandle h) {
  auto it = processes_.find(h);
  if (it == processes_.end()) return;
  service_.removeProcessHandle(it->second, session_ << 32 | h);
  processes_.erase(it);
}

}  // namespace hcsshim::hcs_fake
