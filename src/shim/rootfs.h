// rootfs.h: a task's root filesystem from containerd's mounts.
//
// containerd's usual rootfs is one overlay mount whose upperdir/workdir are
// <snapshot>/fs and <snapshot>/work: the shim hands the VM the layers and the
// snapshot directory (overlayLayers) and the VM builds the overlay itself -
// nothing is mounted on the host. Any other mount list is mounted on the host
// (at <bundle>/rootfs) through the platform's RootfsMounter and the result is
// shared into the VM.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/protobuf/api.h"

#include "src/common/status.h"
#include "src/containerd/api/mount.pb.h"

namespace hcsshim::shim {

using Mounts = pb::RepeatedPtrField<containerd::types::Mount>;

struct OverlayLayers {
  std::vector<std::string> lower;  // read-only layers, top-most first
  std::string snapshotDir;         // holds fs/ (upper) and work/
};

// overlayLayers: the layers of containerd's single overlay mount, or nullopt
// when the mounts are anything else.
std::optional<OverlayLayers> overlayLayers(const Mounts& mounts);

// LcowLayerDisks: the disks of containerd's windows-lcow snapshotter mount
// (one mount, type "lcow-layer": source = the scratch snapshot directory,
// holding sandbox.vhdx; option parentLayerPaths=<JSON array of the
// parents' directories, topmost first>, each holding layer.vhd).
struct LcowLayerDisks {
  std::vector<std::string> layers;  // <parent>/layer.vhd, topmost first
  std::string scratch;              // <source>/sandbox.vhdx, symlinks resolved (a shared scratch is its owner's file)
};

// lcowLayerDisks: the disks, nullopt for mounts of another kind, or
// InvalidArgument naming what is malformed (a second mount, no source, a
// parentLayerPaths that is not a JSON array of absolute paths, a part
// "..", a missing option).
StatusOr<std::optional<LcowLayerDisks>> lcowLayerDisks(const Mounts& mounts);

// RootfsMounter: the platform's mount/unmount of containerd's mounts.
class RootfsMounter {
 public:
  virtual ~RootfsMounter() = default;
  // mount mounts each of `mounts` at target, in order.
  virtual Status mount(const Mounts& mounts, const std::string& target) = 0;
  // unmount detaches whatever is mounted at target (no error if nothing is).
  virtual void unmount(const std::string& target) = 0;
};

}  // namespace hcsshim::shim
