// daemon_hcs.h: HcsApi over the hcs_fake daemon's unix socket (the Linux
// stand-in for computecore.dll).
//
//   auto api = co_await platforms::DaemonHcs::connect(rt, platforms::defaultHcsAddress());
//   auto cs = co_await hcs::ComputeSystem::create(**api, rt.loop(), "c1", doc);
//
// Notifications arrive through one outstanding WaitEvents call; when the
// daemon goes away every callback gets ServiceDisconnect and calls fail with
// HCS_E_CONNECTION_CLOSED... (Unavailable).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "src/hcs/hcs_api.h"
#include "src/runtime/runtime.h"
#include "src/ttrpc/client.h"

namespace hcsshim::platforms {

// defaultHcsAddress: $HCS_FAKE_ADDRESS, else unix:///tmp/hcs-fake-<uid>/hcs.sock.
std::string defaultHcsAddress();

// vsockRootFor: where the daemon at `address` keeps its VMs' hybrid vsock
// sockets ($HCS_FAKE_VSOCK_ROOT, else vsock/ next to the daemon's socket).
std::string vsockRootFor(const std::string& address);

class DaemonHcs final : public hcs::HcsApi {
 public:
  static runtime::Task<StatusOr<std::unique_ptr<DaemonHcs>>> connect(runtime::Runtime& rt, std::string address);
  ~DaemonHcs() override;

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

  // disconnect drops the connection (as if this client process died).
  void disconnect();

  struct State;

 private:
  explicit DaemonHcs(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::platforms
