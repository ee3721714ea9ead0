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
#include <string>

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
  // running: how many guests run now.
  size_t running() const;
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
  std::map<std::string, bool> bridgeUpAtShutdown_;
};

}  // namespace hcsshim::hcs_fake
