// computecore_hcs.h: the HcsApi seam over Windows' computecore.dll (the
// HCS operation API hcsshim's HEAD uses; facts: windows-platform.md).
//
//   runtime::ThreadedEventLoop loop;
//   ComputeCoreHcs hcs(loop);
//   auto list = runtime::blockOn(loop, hcs.enumerateComputeSystems(""));
//
// Each call creates an HCS operation, starts the HcsXxx function with it
// and waits for its result on a thread of its own (HcsWaitForOperationResult,
// infinite: hcsshim never abandons a call in flight - closing handles under
// one crashed computecore.dll); the result is posted to the loop, where the
// coroutine resumes. A failed call becomes schema::statusFromResult of its
// HRESULT and result document. Documents cross as UTF-16 (src/common/utf16.h;
// a document that cannot is InvalidArgument before HCS sees it); returned
// strings are freed with CoTaskMemFree.
//
// Notifications: HcsSetComputeSystemCallback / HcsSetProcessCallback with a
// registry number as context; the callback (an HCS thread) posts the event
// to the loop, which delivers it only if the handle is still open - an event
// after close is dropped.
//
// computecore.dll is loaded at the first call (System32 only) and each
// export resolved when first needed: a host without HCS gets Unavailable
// "computecore.dll could not be loaded: error 126 ..." from every call, one
// with an older DLL gets "computecore.dll has no export X" from the calls
// that need X.
//
// Processes: the stdio pipes a createProcess asks for (CreateStd*Pipe)
// come back in HCS_PROCESS_INFORMATION and are returned as HandleStreams
// (handle_stream.h) - the caller owns them. (Linux utility VMs run their
// processes over the bridge instead.)
#pragma once

#include <memory>

#include "platforms/windows/dll.h"
#include "src/hcs/hcs_api.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::platforms::windows {

class ComputeCoreHcs final : public hcs::HcsApi {
 public:
  explicit ComputeCoreHcs(runtime::EventLoop& loop);
  ~ComputeCoreHcs() override;

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

  struct State;

 private:
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::platforms::windows
