// host_dialer.h: how the guest agent reaches the host - it always dials
// (the host listens). AF_VSOCK in a real VM ("vsock://2:" + port), hybrid
// vsock over unix sockets in simulation ("unix://<uds>_" + port).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "src/runtime/transport.h"

namespace hcsshim::gcs {

class HostDialer {
 public:
  virtual ~HostDialer() = default;
  virtual runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> dial(uint32_t port) = 0;
  virtual std::string describe(uint32_t port) const = 0;
};

// PrefixDialer: transport.connect(prefix + decimal port).
class PrefixDialer final : public HostDialer {
 public:
  PrefixDialer(runtime::Transport& transport, std::string prefix) : transport_(transport), prefix_(std::move(prefix)) {}
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> dial(uint32_t port) override {
    std::string address = describe(port);  // outlives the lazily started connect
    co_return co_await transport_.connect(address);
  }
  std::string describe(uint32_t port) const override { return prefix_ + std::to_string(port); }

 private:
  runtime::Transport& transport_;
  std::string prefix_;
};

}  // namespace hcsshim::gcs
