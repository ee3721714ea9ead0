// vm_backend.h: the seam between the fake HCS and whatever runs a
// VirtualMachine compute system's guest.
//
// The fake HCS owns the compute system state machine and document
// validation; a VmBackend owns the guest: booting it on Start, stopping it on
// Shutdown/Terminate, pausing it, applying device changes and guest requests,
// running processes inside it, and reporting a guest that dies on its own.
// Backends: NoGuestBackend (here: lifecycle only), and later `sim` (the guest
// agent as a host process over hybrid vsock) and `qemu` (a real Linux guest).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "src/hcs/hcs_api.h"
#include "src/runtime/task.h"
#include "src/schema/hcs.h"

namespace hcsshim::hcs_fake {

class VmBackend {
 public:
  virtual ~VmBackend() = default;
  virtual std::string name() const = 0;

  // start boots the guest of system `id` (called from HCS Start).
  virtual runtime::Task<Status> start(const std::string& id, const schema::VirtualMachine& vm) = 0;
  // stop ends the guest (graceful = Shutdown, else Terminate). A guest that
  // crashes instead of shutting down gracefully: HCS_E_UNEXPECTED_EXIT.
  virtual runtime::Task<Status> stop(const std::string& id, bool graceful) = 0;
  virtual runtime::Task<Status> pause(const std::string& id) = 0;
  virtual runtime::Task<Status> resume(const std::string& id) = 0;
  // modify applies a validated ModifySettingRequest (host device part and/or GuestRequest).
  virtual runtime::Task<Status> modify(const std::string& id, const schema::ModifySettingRequest& request) = 0;
  // createProcess runs a process in the guest (or in a container in it).
  virtual runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(const std::string& id,
                                                                     const schema::ProcessParameters& params) = 0;
  // signalProcess delivers a signal to a guest process (SIGKILL = terminate).
  virtual runtime::Task<Status> signalProcess(const std::string& id, uint32_t pid, int signal) = 0;

  // setExitHandler: the backend calls it when a guest ends without being
  // asked: status S_OK = it powered itself off (SystemExited, GracefulExit),
  // an error = it crashed (UnexpectedExit, with that status).
  void setExitHandler(std::function<void(const std::string& id, HResult status)> fn) { onExit_ = std::move(fn); }
  // setProcessExitHandler: the backend calls it when a guest process exits.
  void setProcessExitHandler(std::function<void(const std::string& id, uint32_t pid, int exitCode)> fn) {
    onProcessExit_ = std::move(fn);
  }

 protected:
  std::function<void(const std::string&, HResult)> onExit_;
  std::function<void(const std::string&, uint32_t, int)> onProcessExit_;
};

// NoGuestBackend: VMs go through the whole lifecycle but have no guest;
// anything that needs one answers E_NOTIMPL, naming the missing backend.
class NoGuestBackend final : public VmBackend {
 public:
  std::string name() const override { return "none"; }
  runtime::Task<Status> start(const std::string&, const schema::VirtualMachine&) override { co_return OkStatus(); }
  runtime::Task<Status> stop(const std::string&, bool) override { co_return OkStatus(); }
  runtime::Task<Status> pause(const std::string&) override { co_return OkStatus(); }
  runtime::Task<Status> resume(const std::string&) override { co_return OkStatus(); }
  runtime::Task<Status> modify(const std::string& id, const schema::ModifySettingRequest& request) override {
    if (!request.guestRequest.is_null() && !request.resourcePath) {
      co_return Status::fromHResult(hresult::kNotImpl, "Modify", id,
                                    "guest requests need a guest: no VM backend is configured");
    }
    co_return OkStatus();  // host-side device changes need nothing more without a guest
  }
  runtime::Task<StatusOr<hcs::CreatedProcess>> createProcess(const std::string& id,
                                                             const schema::ProcessParameters&) override {
    co_return Status::fromHResult(hresult::kNotImpl, "CreateProcess", id,
                                  "processes in a virtual machine need a guest: no VM backend is configured");
  }
  runtime::Task<Status> signalProcess(const std::string& id, uint32_t pid, int) override {
    co_return Status::fromHResult(hresult::kElementNotFound, "SignalProcess", id + "/" + std::to_string(pid),
                                  "no guest: no VM backend is configured");
  }
};

}  // namespace hcsshim::hcs_fake
