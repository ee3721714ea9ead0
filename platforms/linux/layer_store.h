// layer_store.h: containerd's layer directories as ext4 layer images for
// utility VMs - what hcsshim's LCOW gets from the windows-lcow differ
// (layer.vhd per layer), made here from containerd's overlay snapshots.
//
// Layout under the store's root (shared by every shim on the host):
//   .lock                       flock: every change holds it
//   <key>/layer.vhd             the image (tar2ext4 of the directory, VHD
//                               footer, padded to 2 MiB for virtio-pmem)
//   <key>/refs/<owner digest>   one per task using it
//   scratch-<bytes>.img         a pristine scratch, copied per container
//   scratch/<owner digest>.img  a task's scratch disk
// key = SHA-256 of the directory's metadata walk (names, types, modes,
// owners, sizes, nanosecond mtimes, device numbers, link targets, xattrs):
// the same layer makes one image, a changed one another. An image goes
// with its last reference. Conversions run on the caller's thread (a
// layer's first use costs its conversion; docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <string>

#include "src/common/status.h"
#include "src/runtime/runtime.h"
#include "src/runtime/task.h"
#include "src/shim/platform.h"

namespace hcsshim::platforms {

class LayerStore final : public shim::LayerImages {
 public:
  LayerStore(runtime::Runtime& rt, std::string root) : rt_(rt), root_(std::move(root)) {}

  // acquire: the image of layer directory `dir`, made on first use; `owner`
  // (a task) holds a reference until releaseAll(owner).
  StatusOr<std::string> acquire(const std::string& dir, const std::string& owner) override;
  // releaseAll: every reference `owner` holds (images nobody holds go) and
  // its scratch disk.
  Status releaseAll(const std::string& owner) override;
  // makeScratch: owner's fresh, empty, writable ext4 disk of `bytes`
  // (sparse, scratch/<owner digest>.img): a copy of a pristine one
  // mkfs.ext4 made once.
  runtime::Task<StatusOr<std::string>> makeScratch(std::string owner, uint64_t bytes) override;

  // contentKey: the key of a directory (exposed for tests).
  static StatusOr<std::string> contentKey(const std::string& dir);
  const std::string& root() const { return root_; }

 private:
  runtime::Runtime& rt_;
  std::string root_;
};

// copySparse: `from` to `to` (created, 0644), holes kept.
Status copySparse(const std::string& from, const std::string& to);

}  // namespace hcsshim::platforms
