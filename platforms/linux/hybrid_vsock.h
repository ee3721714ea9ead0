// hybrid_vsock.h: the host side of a utility VM's vsock on Linux -
// Firecracker-style hybrid vsock over unix sockets. The guest dialling host
// port P lands on the unix socket "<uds>_P", on which the host listens. The
// host dialling guest port P connects to "<uds>" itself and says
// "CONNECT P\n"; the VMM answers "OK <host port>\n" and the stream is then
// the guest's, or closes it when nothing in the guest listens on P.
#pragma once

#include <string>

#include "src/bridge/vsock.h"
#include "src/runtime/transport.h"

namespace hcsshim::platforms {

// hybridVsockPath: the VMM socket of VM `vmId` under `vsockRoot`, the one
// place this convention lives (the fake HCS's sim backend serves it; the
// shim, uvmboot and tests reach it). The name is a digest of the id, so any
// id - CRI's 64 hex characters, an id with '/' or '..' - gives a short,
// safe name; a long root is handled by the transport.
//   <path>            the VMM: "CONNECT <port>\n" reaches a guest listener
//   <path>_<port>     host listeners the guest dials
//   <path>.guest_<port>  guest listeners (sim backend)
std::string hybridVsockPath(const std::string& vsockRoot, const std::string& vmId);

class HybridVsockHost final : public bridge::VsockHost {
 public:
  HybridVsockHost(runtime::Transport& transport, std::string udsPath)
      : transport_(transport), uds_(std::move(udsPath)) {}
  StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) override {
    return transport_.listen("unix://" + portPath(port));
  }
  // dial connects to a listener in the guest on vsock port `port`.
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> dial(uint32_t port);
  std::string portPath(uint32_t port) const { return uds_ + "_" + std::to_string(port); }
  const std::string& udsPath() const { return uds_; }

 private:
  runtime::Transport& transport_;
  std::string uds_;
};

}  // namespace hcsshim::platforms
