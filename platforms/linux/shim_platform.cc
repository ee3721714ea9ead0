#include "platforms/linux/shim_platform.h"

#include <cstdlib>

#include <malloc.h>

#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/daemon_hns.h"
#include "platforms/linux/hybrid_vsock.h"

namespace hcsshim::platforms {

LinuxShimPlatform::LinuxShimPlatform(runtime::RealRuntime& rt, std::string hcsAddress)
    : rt_(rt),
      hcsAddress_(std::move(hcsAddress)),
      vsockRoot_(vsockRootFor(hcsAddress_)),
      stdio_(rt.epoll(), rt.processes()),
      layers_(rt, [] {
        const char* root = getenv("HCSSHIM_LAYER_STORE");
        return std::string(root && *root ? root : "/var/lib/hcsshim-cpp/layers");
      }()) {}

std::unique_ptr<bridge::VsockHost> LinuxShimPlatform::vsockFor(const std::string& vmId) {
  return std::make_unique<HybridVsockHost>(rt_.transport(), hybridVsockPath(vsockRoot_, vmId));
}

runtime::Task<StatusOr<std::unique_ptr<hns::HnsApi>>> LinuxShimPlatform::connectHns() {
  // The HNS of the same fake HCS daemon (computenetwork.dll on Windows).
  auto api = co_await DaemonHns::connect(rt_, hcsAddress_);
  if (!api.ok()) co_return api.status();
  co_return std::unique_ptr<hns::HnsApi>(std::move(*api));
}

// Booting a VM and creating a container are bursts of JSON and protobuf
// garbage; a shim then idles for the task's life: hand the freed heap pages
// back instead of keeping them resident per task.
void LinuxShimPlatform::releaseMemory() { malloc_trim(0); }

}  // namespace hcsshim::platforms
