#include "src/runtime/real_runtime.h"

#include <unistd.h>

namespace hcsshim::runtime {

StatusOr<std::unique_ptr<RealRuntime>> RealRuntime::create(std::string name) {
  HCS_ASSIGN_OR_RETURN(auto loop, EpollEventLoop::create());
  return std::unique_ptr<RealRuntime>(new RealRuntime(std::move(name), std::move(loop)));
}

RealRuntime::RealRuntime(std::string name, std::unique_ptr<EpollEventLoop> loop)
    : name_(std::move(name)),
      loop_(std::move(loop)),
      transport_(std::make_unique<UnixTransport>(*loop_)),
      processes_(std::make_unique<PosixProcessRunner>(*loop_)),
      random_(Random::fromKernel()) {}

PeerCredentials RealRuntime::credentials() const {
  return PeerCredentials{static_cast<int32_t>(getpid()), getuid(), getgid()};
}

}  // namespace hcsshim::runtime
