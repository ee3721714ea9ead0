// service.h: the fake HCS as a library.
//
// FakeHcsService holds compute systems (state machine, documents, processes,
// devices) the way vmcompute does: systems outlive the clients that created
// them, each client works through its own handles, and every failure carries
// the HRESULT real HCS returns. InProcessHcs is one client session, an HcsApi
// over the service in the same process; the hcs_fake daemon serves the same
// sessions over ttrpc.
//
//   hcs_fake::FakeHcsService service(rt);
//   hcs_fake::InProcessHcs api(service);
//   auto h = co_await api.createComputeSystem("c1", containerDoc);
//
// Behaviour (see ../shared/facts/hcs-api.md):
//   - states Created -> Running <-> Paused -> Stopped; anything else is
//     HCS_E_INVALID_STATE; Shutdown/Terminate of a stopped system is
//     HCS_E_SYSTEM_ALREADY_STOPPED; unknown id HCS_E_SYSTEM_NOT_FOUND;
//     duplicate id HCS_E_SYSTEM_ALREADY_EXISTS; bad documents HCS_E_INVALID_JSON
//     naming the field;
//   - operations complete asynchronously (after the loop turns), and exits are
//     reported as SystemExited / ProcessExited notifications;
//   - Container systems run their processes as real host processes through
//     the runtime's ProcessRunner; VirtualMachine systems validate their
//     document and delegate the guest to a VmBackend (vm_backend.h; the
//     default NoGuestBackend answers E_NOTIMPL for anything needing a guest).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "hcs_fake/freezer.h"
#include "hcs_fake/vm_backend.h"
#include "src/hcs/hcs_api.h"
#include "src/runtime/runtime.h"
#include "src/schema/hcs.h"

namespace hcsshim::hcs_fake {

enum class SystemState { kCreated, kRunning, kPaused, kStopped };
std::string stateName(SystemState s);

struct ProcessRecord;
struct SystemRecord;

// ServiceFaults: what the simulator's campaigns inject. Unset, the service
// behaves as HCS does: an operation completes on the next loop turn and each
// notification is delivered once, in order, to the handles open then.
struct ServiceFaults {
  // operationDelay: extra time before an operation completes (a late HCS).
  std::function<runtime::Duration()> operationDelay;
  // notificationCopies: how many times a notification is delivered
  // (0 drops it, 2 duplicates it); notificationDelay: how late each copy
  // arrives (copies with different delays arrive reordered).
  std::function<int()> notificationCopies;
  std::function<runtime::Duration()> notificationDelay;
};

class FakeHcsService {
 public:
  // vmBackend runs the guests of VirtualMachine systems (NoGuestBackend if
  // null); freezer pauses Container systems (without one, Pause of a
  // Container system answers E_NOTIMPL: a pause that froze only some of its
  // processes would be a lie).
  explicit FakeHcsService(runtime::Runtime& rt, std::unique_ptr<VmBackend> vmBackend = nullptr,
                          std::unique_ptr<Freezer> freezer = nullptr);
  ~FakeHcsService();

  runtime::Runtime& runtime() { return rt_; }
  void setFaults(ServiceFaults faults) { faults_ = std::move(faults); }

  // Session bookkeeping: a client session registers and drops its handles so
  // ShouldTerminateOnLastHandleClosed can be honoured.
  uint64_t newSessionId() { return nextSession_++; }

  // Operations (each completes after at least one loop turn).
  runtime::Task<StatusOr<std::shared_ptr<SystemRecord>>> create(std::string id, std::string configuration);
  StatusOr<std::shared_ptr<SystemRecord>> find(const std::string& id) const;
  runtime::Task<StatusOr<std::string>> enumerate(std::string query);
  runtime::Task<Status> start(std::shared_ptr<SystemRecord> s);
  runtime::Task<Status> shutdown(std::shared_ptr<SystemRecord> s);
  runtime::Task<Status> terminate(std::shared_ptr<SystemRecord> s);
  runtime::Task<Status> pause(std::shared_ptr<SystemRecord> s);
  runtime::Task<Status> resume(std::shared_ptr<SystemRecord> s);
  runtime::Task<Status> save(std::shared_ptr<SystemRecord> s, std::string options);
  runtime::Task<StatusOr<std::string>> properties(std::shared_ptr<SystemRecord> s, std::string query);
  runtime::Task<Status> modify(std::shared_ptr<SystemRecord> s, std::string settings);

  runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(std::shared_ptr<SystemRecord> s, std::string parameters,
                                                             std::shared_ptr<ProcessRecord>* record);
  StatusOr<std::shared_ptr<ProcessRecord>> findProcess(const std::shared_ptr<SystemRecord>& s, uint32_t pid) const;
  runtime::Task<Status> signalProcess(std::shared_ptr<ProcessRecord> p, std::string options);
  runtime::Task<Status> terminateProcess(std::shared_ptr<ProcessRecord> p);
  runtime::Task<StatusOr<std::string>> processProperties(std::shared_ptr<ProcessRecord> p);
  runtime::Task<Status> modifyProcess(std::shared_ptr<ProcessRecord> p, std::string settings);

  // Handle accounting and notification subscription.
  void addHandle(const std::shared_ptr<SystemRecord>& s, uint64_t handleKey);
  void removeHandle(const std::shared_ptr<SystemRecord>& s, uint64_t handleKey);
  void setSystemCallback(const std::shared_ptr<SystemRecord>& s, uint64_t handleKey, hcs::EventCallback cb);
  void setProcessCallback(const std::shared_ptr<ProcessRecord>& p, uint64_t handleKey, hcs::EventCallback cb);
  void removeProcessHandle(const std::shared_ptr<ProcessRecord>& p, uint64_t handleKey);

  // shutdownService terminates every system (as when vmcompute stops) and
  // waits until their processes are reaped; the daemon sends
  // ServiceDisconnect to its clients after this.
  runtime::Task<void> shutdownService();
  size_t systemCount() const { return systems_.size(); }

 private:
  // Per-operation helpers.
  Status checkState(const SystemRecord& s, const char* op, std::initializer_list<SystemState> allowed) const;
  void stopSystem(const std::shared_ptr<SystemRecord>& s, const std::string& exitType, HResult status);
  void notifySystem(const std::shared_ptr<SystemRecord>& s, hcs::Event e);
  // deliver runs a notification's delivery as the faults say (once, next turn).
  void deliver(const std::function<void()>& delivery);
  Status validate(const schema::ComputeSystem& doc, const std::string& id) const;
  Status applyModify(SystemRecord& s, const schema::ModifySettingRequest& req);
  runtime::Task<void> watchProcess(std::shared_ptr<ProcessRecord> p);
  void processExited(const std::shared_ptr<ProcessRecord>& p, runtime::ExitStatus st);
  void startContainerInit(const std::shared_ptr<SystemRecord>& s);
  // forget drops a system from the table (its last handle closed after it stopped).
  void forget(const std::shared_ptr<SystemRecord>& s);
  Status deliverSignal(const std::shared_ptr<ProcessRecord>& p, int sig, const char* op);
  runtime::Task<void> settle();

  runtime::Runtime& rt_;
  ServiceFaults faults_;
  std::unique_ptr<VmBackend> vm_;
  std::unique_ptr<Freezer> freezer_;
  std::map<std::string, std::shared_ptr<SystemRecord>> systems_;
  // Processes of forgotten systems that have been killed but not reaped yet.
  std::vector<std::unique_ptr<runtime::Process>> dying_;
  std::vector<std::shared_ptr<ProcessRecord>> dyingProcesses_;
  uint64_t nextSession_ = 1;
};

// InProcessHcs: one client session over a service in the same process.
class InProcessHcs final : public hcs::HcsApi {
 public:
  explicit InProcessHcs(FakeHcsService& service);
  ~InProcessHcs() override;

  runtime::Task<StatusOr<std::string>> enumerateComputeSystems(std::string query) override;
  runtime::Task<StatusOr<hcs::SystemHandle>> createComputeSystem(std::string id, std::string configuration) override;
  runtime::Task<StatusOr<hcs::SystemHandle>> openComputeSystem(std::string id) override;
  runtime::Task<Status> startComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> shutDownComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> terminateComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> pauseComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> resumeComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<Status> saveComputeSystem(hcs::SystemHandle system, std::string options) override;
  runtime::Task<StatusOr<std::string>> getComputeSystemProperties(hcs::SystemHandle system, std::string query) override;
  runtime::Task<Status> modifyComputeSystem(hcs::SystemHandle system, std::string settings) override;
  Status setComputeSystemCallback(hcs::SystemHandle system, hcs::EventCallback callback) override;
  void closeComputeSystem(hcs::SystemHandle system) override;

  runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(hcs::SystemHandle system, std::string parameters) override;
  runtime::Task<StatusOr<hcs::ProcessHandle>> openProcess(hcs::SystemHandle system, uint32_t pid) override;
  runtime::Task<Status> signalProcess(hcs::ProcessHandle process, std::string options) override;
  runtime::Task<Status> terminateProcess(hcs::ProcessHandle process) override;
  runtime::Task<StatusOr<std::string>> getProcessProperties(hcs::ProcessHandle process) override;
  runtime::Task<Status> modifyProcess(hcs::ProcessHandle process, std::string settings) override;
  Status setProcessCallback(hcs::ProcessHandle process, hcs::EventCallback callback) override;
  void closeProcess(hcs::ProcessHandle process) override;

  // closeAll drops every handle (what happens when a client disconnects).
  void closeAll();

 private:
  StatusOr<std::shared_ptr<SystemRecord>> system(hcs::SystemHandle h, const char* op) const;
  StatusOr<std::shared_ptr<ProcessRecord>> process(hcs::ProcessHandle h, const char* op) const;
  hcs::SystemHandle addSystemHandle(std::shared_ptr<SystemRecord> s);
  hcs::ProcessHandle addProcessHandle(std::shared_ptr<ProcessRecord> p);

  FakeHcsService& service_;
  uint64_t session_;
  uint64_t nextHandle_ = 1;
  std::map<hcs::SystemHandle, std::shared_ptr<SystemRecord>> systems_;
  std::map<hcs::ProcessHandle, std::shared_ptr<ProcessRecord>> processes_;
};

}  // namespace hcsshim::hcs_fake
