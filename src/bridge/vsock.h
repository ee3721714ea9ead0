// vsock.h: the host's side of a utility VM's vsock (AF_HYPERV on Windows,
// hybrid vsock over unix sockets on Linux - platforms/linux/hybrid_vsock.h).
// The host listens; the guest dials CID 2 on a port.
#pragma once

#include <cstdint>
#include <memory>

#include "src/common/status.h"
#include "src/runtime/transport.h"

namespace hcsshim::bridge {

class VsockHost {
 public:
  virtual ~VsockHost() = default;
  // listen accepts the guest's connections to host port `port`.
  virtual StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) = 0;
};

}  // namespace hcsshim::bridge
