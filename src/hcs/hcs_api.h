// hcs_api.h: the HCS API seam, shaped like computecore.dll.
//
// Every HCS client in this project (src/hcs ComputeSystem/Process, the UVM
// library, the shim, the conformance suites) talks to HCS through this
// interface. Implementations:
//   - hcs_fake::InProcessHcs: the fake HCS service in the same process;
//   - platforms/linux: the hcs_fake daemon over its unix socket;
//   - platforms/windows: computecore.dll.
//
// Calls are coroutines that complete when HCS completes the operation (what
// HcsCreateOperation + HcsWaitForOperationResult do on Windows). A failure is
// a Status carrying the HCS HRESULT and the result document's message.
// Documents in and out are JSON strings (schema 2, see src/schema/hcs.h).
//
//   HCS_CO_ASSIGN_OR_RETURN(SystemHandle h, co_await api.createComputeSystem(id, doc));
//   HCS_CO_RETURN_IF_ERROR(co_await api.startComputeSystem(h, ""));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "src/common/status.h"
#include "src/runtime/task.h"
#include "src/runtime/transport.h"

namespace hcsshim::hcs {

using SystemHandle = uint64_t;
using ProcessHandle = uint64_t;

// EventType: computecore HCS_EVENT_TYPE values.
enum class EventType : uint32_t {
  kInvalid = 0,
  kSystemExited = 0x00000001,
  kSystemCrashInitiated = 0x00000002,
  kSystemCrashReport = 0x00000003,
  kSystemRdpEnhancedModeStateChanged = 0x00000004,
  kSystemSiloJobCreated = 0x00000005,
  kSystemGuestConnectionClosed = 0x00000006,
  kProcessExited = 0x00010000,
  kOperationCallback = 0x01000000,
  kServiceDisconnect = 0x02000000,
};

std::string eventTypeName(EventType t);

// Event: a notification. eventData is JSON: for SystemExited
// {"Status": <HRESULT>, "ExitType": "GracefulExit"|"ForcedExit"|"UnexpectedExit"|"Unknown"};
// for ProcessExited a ProcessStatus document.
struct Event {
  EventType type = EventType::kInvalid;
  std::string eventData;
};

using EventCallback = std::function<void(const Event&)>;

// CreatedProcess: a new process and the host ends of the stdio pipes it asked for.
struct CreatedProcess {
  ProcessHandle handle = 0;
  uint32_t pid = 0;
  std::unique_ptr<runtime::Stream> stdinStream;
  std::unique_ptr<runtime::Stream> stdoutStream;
  std::unique_ptr<runtime::Stream> stderrStream;
};

class HcsApi {
 public:
  virtual ~HcsApi() = default;

  // EnumerateComputeSystems: a JSON array of {Id, SystemType, Owner, State, ...}.
  virtual runtime::Task<StatusOr<std::string>> enumerateComputeSystems(std::string query) = 0;
  virtual runtime::Task<StatusOr<SystemHandle>> createComputeSystem(std::string id, std::string configuration) = 0;
  virtual runtime::Task<StatusOr<SystemHandle>> openComputeSystem(std::string id) = 0;
  virtual runtime::Task<Status> startComputeSystem(SystemHandle system, std::string options) = 0;
  virtual runtime::Task<Status> shutDownComputeSystem(SystemHandle system, std::string options) = 0;
  virtual runtime::Task<Status> terminateComputeSystem(SystemHandle system, std::string options) = 0;
  virtual runtime::Task<Status> pauseComputeSystem(SystemHandle system, std::string options) = 0;
  virtual runtime::Task<Status> resumeComputeSystem(SystemHandle system, std::string options) = 0;
  virtual runtime::Task<Status> saveComputeSystem(SystemHandle system, std::string options) = 0;
  // getComputeSystemProperties: a Properties document for a PropertyQuery.
  virtual runtime::Task<StatusOr<std::string>> getComputeSystemProperties(SystemHandle system, std::string query) = 0;
  virtual runtime::Task<Status> modifyComputeSystem(SystemHandle system, std::string settings) = 0;
  // setComputeSystemCallback replaces the system handle's notification callback.
  virtual Status setComputeSystemCallback(SystemHandle system, EventCallback callback) = 0;
  virtual void closeComputeSystem(SystemHandle system) = 0;

  virtual runtime::Task<StatusOr<CreatedProcess>> createProcess(SystemHandle system, std::string parameters) = 0;
  virtual runtime::Task<StatusOr<ProcessHandle>> openProcess(SystemHandle system, uint32_t pid) = 0;
  // signalProcess: {"Signal": <int>} for Linux, {"Signal": "CtrlC"...} for Windows.
  virtual runtime::Task<Status> signalProcess(ProcessHandle process, std::string options) = 0;
  virtual runtime::Task<Status> terminateProcess(ProcessHandle process) = 0;
  // getProcessProperties: a ProcessStatus document.
  virtual runtime::Task<StatusOr<std::string>> getProcessProperties(ProcessHandle process) = 0;
  // modifyProcess: ConsoleSize or CloseHandle operations.
  virtual runtime::Task<Status> modifyProcess(ProcessHandle process, std::string settings) = 0;
  virtual Status setProcessCallback(ProcessHandle process, EventCallback callback) = 0;
  virtual void closeProcess(ProcessHandle process) = 0;
};

}  // namespace hcsshim::hcs
