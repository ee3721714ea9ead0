// in_process_guest.h: a VM backend whose guest is the real guest agent
// (gcs::Agent) running in this process, on the test's runtime, with a fake
// container runtime (gcs/testing/fake_runtime.h) - so the host stack (uvm,
// the shim's task model) is unit-tested against the in-process fake HCS
// with no root, no runc and no second process.
//
//   InProcessGuestBackend* guests;
//   FakeHcsService hcs(rt, InProcessGuestBackend::create(rt, dir, &guests));
//   auto vm = co_await uvm::UtilityVM::create(rt, api, guests->vsockFor("vm1"), options);
//
// Each VM's vsock is a set of sockets on the runtime's transport:
// <dir>/<n>_<port>, where the host listens and the guest dials (as hybrid
// vsock). Pause freezes the fake container runtime (nothing progresses);
// graceful stop is the agent's shutdown; a guest can be crashed on purpose.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hcs_fake/vm_backend.h"
#include "src/bridge/vsock.h"
#include "src/runtime/runtime.h"

namespace hcsshim::hcs_fake {

class InProcessGuestBackend final : public VmBackend {
 public:
  InProcessGuestBackend(runtime::Runtime& rt, std::string dir);
  ~InProcessGuestBackend() override;
  std::string name() const override { return "in-process"; }

  // vsockFor: the host side of VM id's vsock (give it to uvm::UtilityVM).
  std::unique_ptr<bridge::VsockHost> vsockFor(const std::string& id);

  runtime::Task<Status> start(const std::string& id, const schema::VirtualMachine& vm) override;
  runtime::Task<Status> stop(const std::string& id, bool graceful) override;
  runtime::Task<Status> pause(const std::string& id) override;
  runtime::Task<Status> resume(const std::string& id) override;
  runtime::Task<Status> modify(const std::string& id, const schema::ModifySettingRequest& request) override;
  runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(const std::string& id,
                                                             const schema::ProcessParameters& params) override;
  runtime::Task<Status> signalProcess(const std::string& id, uint32_t pid, int signal) override;

  // crash ends VM id's guest as if it died (UnexpectedExit).
  void crash(const std::string& id);
  // setBootDelay: how long each guest takes to boot before its agent runs
  // (a slow boot; unset: at once).
  void setBootDelay(std::function<runtime::Duration()> delay) { bootDelay_ = std::move(delay); }
  // running: how many guests run now; runningIds: their VM ids.
  size_t running() const;
  std::vector<std::string> runningIds() const;
  // gracefulStopsWithBridgeDown: VMs shut down gracefully whose guest's
  // bridge was already down (hcsshim's order keeps it up).
  std::vector<std::string> gracefulStopsWithBridgeDown() const;
  // unexpectedExits: VMs whose guest ended on its own, not asked to shut
  // down (crashed, or lost its bridge), in order.
  const std::vector<std::string>& unexpectedExits() const { return unexpectedExits_; }
  // vmOfAddress: the VM whose vsock an address (as the transport names it,
  // without "unix://") belongs to, and its port; nullopt for other addresses.
  std::optional<std::pair<std::string, uint32_t>> vmOfAddress(std::string_view address) const;
  // guestSawShutdownBeforeEof: VM id's agent was asked to shut down while
  // its bridge was still up (the order hcsshim uses).
  bool bridgeUpAtShutdown(const std::string& id) const;

 private:
  struct Guest;
  std::string socketPrefix(const std::string& id);
  runtime::Runtime& rt_;
  std::string dir_;
  std::map<std::string, std::string> prefixes_;  // VM id -> socket prefix
  std::map<std::string, std::shared_ptr<Guest>> guests_;
  std::vector<std::shared_ptr<Guest>> retired_;  // guests that ended (kept: see start())
  std::map<std::string, bool> bridgeUpAtShutdown_;
  std::function<runtime::Duration()> bootDelay_;
  std::vector<std::string> unexpectedExits_;
};

}  // namespace hcsshim::hcs_fake
