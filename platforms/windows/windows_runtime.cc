#define _CRT_RAND_S
#include "platforms/windows/windows_runtime.h"

#include <windows.h>

#include <cstdlib>

namespace hcsshim::platforms::windows {

StatusOr<std::unique_ptr<WindowsRuntime>> WindowsRuntime::create(std::string name) {
  uint64_t seed = 0;
  for (int i = 0; i < 2; ++i) {
    unsigned int part = 0;
    if (rand_s(&part) != 0) return UnavailableError("rand_s failed: no system randomness to seed from");
    seed = (seed << 32) | part;
  }
  std::unique_ptr<WindowsRuntime> rt(new WindowsRuntime(std::move(name), seed));
  HCS_ASSIGN_OR_RETURN(rt->transport_, WinsockTransport::create(rt->loop_));
  return rt;
}

runtime::PeerCredentials WindowsRuntime::credentials() const {
  return runtime::PeerCredentials{.pid = static_cast<int32_t>(::GetCurrentProcessId()), .uid = 0, .gid = 0};
}

}  // namespace hcsshim::platforms::windows
