// vsock.h: the host's side of a utility VM's vsock (AF_HYPERV on Windows,
// hybrid vsock over unix sockets on Linux - platforms/linux/hybrid_vsock.h).
// The host listens; the guest dials CID 2 on a port.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "src/common/status.h"
#include "src/runtime/transport.h"

namespace hcsshim::bridge {

class VsockHost {
 public:
  virtual ~VsockHost() = default;
  // needsRuntimeId: whether listen needs the VM's HCS RuntimeId first
  // (AF_HYPERV listens on VmId = RuntimeId; hybrid vsock names its sockets
  // by the VM id and needs nothing). When true, whoever drives the VM reads
  // the RuntimeId property after create and calls bindToVm before listening.
  virtual bool needsRuntimeId() const { return false; }
  virtual Status bindToVm(const std::string& runtimeId) {
    (void)runtimeId;
    return OkStatus();
  }
  // listen accepts the guest's connections to host port `port`.
  virtual StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) = 0;
};

}  // namespace hcsshim::bridge
