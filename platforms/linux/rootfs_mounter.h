// rootfs_mounter.h: containerd's rootfs mounts on a Linux host (mount(2)
// with containerd's option words: ro, bind, rbind, the rest as data).
#pragma once

#include "src/shim/rootfs.h"

namespace hcsshim::platforms {

class LinuxRootfsMounter final : public shim::RootfsMounter {
 public:
  Status mount(const shim::Mounts& mounts, const std::string& target) override;
  void unmount(const std::string& target) override;
};

}  // namespace hcsshim::platforms
