#include "platforms/linux/hybrid_vsock.h"

#include "src/common/sha256.h"

namespace hcsshim::platforms {

std::string hybridVsockPath(const std::string& vsockRoot, const std::string& vmId) {
  return vsockRoot + "/" + sha256Hex(vmId).substr(0, 24) + ".sock";
}

using runtime::Task;

Task<StatusOr<std::unique_ptr<runtime::Stream>>> HybridVsockHost::dial(uint32_t port) {
  std::string address = "unix://" + uds_;
  auto s = co_await transport_.connect(address);
  if (!s.ok()) co_return s.status();
  std::string hello = "CONNECT " + std::to_string(port) + "\n";
  HCS_CO_RETURN_IF_ERROR(co_await (*s)->write(hello));
  // The answer, one byte at a time: nothing after the newline is ours.
  std::string line;
  char c;
  while (line.size() < 32) {
    auto n = co_await (*s)->read(std::span<char>(&c, 1));
    if (!n.ok() || *n == 0) {
      co_return UnavailableError("vsock port " + std::to_string(port) + " of " + uds_ + ": nothing listens there");
    }
    if (c == '\n') break;
    line += c;
  }
  if (line.rfind("OK ", 0) != 0) {
    co_return UnavailableError("vsock port " + std::to_string(port) + " of " + uds_ + ": unexpected answer \"" + line +
                               "\"");
  }
  co_return std::move(*s);
}

}  // namespace hcsshim::platforms
