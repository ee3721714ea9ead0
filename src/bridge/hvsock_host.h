// hvsock_host.h: the host side of a utility VM's vsock over Hyper-V sockets
// (what hcsshim does on Windows): a listener for guest port P is an
// AF_HYPERV socket bound to VmId = the VM's HCS RuntimeId and ServiceId =
// the vsock template GUID with Data1 = P (hvsock_address.h). The transport
// that opens it is the platform's (platforms/windows/winsock_transport.h:
// hvsock:// addresses); this class only says what to listen on, so it is
// tested on Linux.
//
//   HvSockHost host(transport);
//   host.bindToVm(runtimeId);                  // src/uvm does it after create
//   auto bridge = host.listen(bridge::kBridgePort);
//
// listen before bindToVm is FailedPrecondition; a RuntimeId that is not a
// GUID is InvalidArgument.
#pragma once

#include <optional>

#include "src/bridge/hvsock_address.h"
#include "src/bridge/vsock.h"

namespace hcsshim::bridge {

class HvSockHost final : public VsockHost {
 public:
  explicit HvSockHost(runtime::Transport& transport) : transport_(transport) {}
  bool needsRuntimeId() const override { return true; }
  Status bindToVm(const std::string& runtimeId) override;
  StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) override;

 private:
  runtime::Transport& transport_;
  std::optional<Guid> vmId_;
};

}  // namespace hcsshim::bridge
