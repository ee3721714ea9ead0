// shim_platform.h: the shim's platform on Linux - utility VMs' vsock is the
// fake HCS's hybrid vsock, HNS is the fake HCS daemon's, stdio is FIFOs and
// files, rootfs mounts are mount(2), layer images live in the layer store
// at $HCSSHIM_LAYER_STORE (default /var/lib/hcsshim-cpp/layers).
//
//   platforms::LinuxShimPlatform platform(rt, hcsAddress);
//   shim::TaskModel model(rt, *hcs, events, platform, config);
#pragma once

#include <string>

#include "platforms/linux/fifo_stdio.h"
#include "platforms/linux/layer_store.h"
#include "platforms/linux/rootfs_mounter.h"
#include "src/runtime/real_runtime.h"
#include "src/shim/platform.h"

namespace hcsshim::platforms {

class LinuxShimPlatform final : public shim::ShimPlatform {
 public:
  // hcsAddress: the HCS (fake) daemon; its VMs' vsock sockets are under
  // vsockRootFor(hcsAddress).
  LinuxShimPlatform(runtime::RealRuntime& rt, std::string hcsAddress);
  std::unique_ptr<bridge::VsockHost> vsockFor(const std::string& vmId) override;
  runtime::Task<StatusOr<std::unique_ptr<hns::HnsApi>>> connectHns() override;
  shim::StdioEndpoints& stdio() override { return stdio_; }
  shim::RootfsMounter& rootfs() override { return rootfs_; }
  shim::LayerImages* layerImages() override { return &layers_; }
  void releaseMemory() override;

 private:
  runtime::RealRuntime& rt_;
  std::string hcsAddress_, vsockRoot_;
  FifoStdio stdio_;
  LinuxRootfsMounter rootfs_;
  LayerStore layers_;
};

}  // namespace hcsshim::platforms
