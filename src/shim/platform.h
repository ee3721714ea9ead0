// platform.h: what the shim's task model needs from the machine it runs on,
// injected by the binary's main.cc - platforms/linux today (the fake HCS's
// hybrid vsock, FIFOs, mount(2)), platforms/windows later (AF_HYPERV, named
// pipes), the simulator's world in sim/.
//
//   platforms::LinuxShimPlatform platform(rt, vsockRoot, hcsAddress);
//   shim::TaskModel model(rt, hcs, events, platform, config);
#pragma once

#include <memory>
#include <string>

#include "src/bridge/vsock.h"
#include "src/hns/hns_api.h"
#include "src/runtime/task.h"
#include "src/shim/rootfs.h"
#include "src/shim/stdio.h"

namespace hcsshim::shim {

// LayerImages: containerd's layer directories as read-only ext4 layer
// images, shared by every task on the host (platforms::LayerStore on Linux).
class LayerImages {
 public:
  virtual ~LayerImages() = default;
  // acquire: the image of layer directory `dir` (made on first use); `owner`
  // holds it until releaseAll(owner).
  virtual StatusOr<std::string> acquire(const std::string& dir, const std::string& owner) = 0;
  // releaseAll: every image `owner` holds (unheld images go) and its scratch.
  virtual Status releaseAll(const std::string& owner) = 0;
  // makeScratch: `owner`'s fresh empty writable ext4 disk of `bytes` (with
  // the store, on disk: never in containerd's tmpfs state directory).
  virtual runtime::Task<StatusOr<std::string>> makeScratch(std::string owner, uint64_t bytes) = 0;
};

class ShimPlatform {
 public:
  virtual ~ShimPlatform() = default;
  // vsockFor: the host side of utility VM vmId's vsock (the VM id -> socket
  // convention is the platform's: platforms::hybridVsockPath on Linux).
  virtual std::unique_ptr<bridge::VsockHost> vsockFor(const std::string& vmId) = 0;
  // connectHns reaches HNS; called the first time a task's spec names a
  // network namespace. Unimplemented where there is none.
  virtual runtime::Task<StatusOr<std::unique_ptr<hns::HnsApi>>> connectHns() = 0;
  virtual StdioEndpoints& stdio() = 0;
  virtual RootfsMounter& rootfs() = 0;
  // layerImages: nullptr where the platform makes none (layers then reach
  // the VM as Plan9 shares).
  virtual LayerImages* layerImages() { return nullptr; }
  // releaseMemory hands freed heap pages back to the system (after a task
  // starts: a shim then idles for the task's life).
  virtual void releaseMemory() {}
};

}  // namespace hcsshim::shim
