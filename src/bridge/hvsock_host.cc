#include "src/bridge/hvsock_host.h"

namespace hcsshim::bridge {

Status HvSockHost::bindToVm(const std::string& runtimeId) {
  auto id = Guid::parse(runtimeId);
  if (!id.ok()) return InvalidArgumentError("the VM's RuntimeId is not a GUID: " + runtimeId.substr(0, 100));
  vmId_ = *id;
  return OkStatus();
}

StatusOr<std::unique_ptr<runtime::Listener>> HvSockHost::listen(uint32_t port) {
  if (!vmId_) {
    return FailedPreconditionError("Hyper-V socket listen on vsock port " + std::to_string(port) +
                                   " before the VM's RuntimeId is known (bindToVm)");
  }
  return transport_.listen(formatHvsockUri({*vmId_, serviceIdForPort(port)}));
}

}  // namespace hcsshim::bridge
