// storage.h: the guest agent's mounts and the rules for host-supplied paths.
//
// Every path the host sends (layers, scratch, container roots, mount points)
// must be absolute, free of "." and ".." components, and inside one of the
// agent's mount roots - also after resolving symlinks in the part that
// exists - so a hostile host cannot make the agent mount over /etc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/common/status.h"

namespace hcsshim::gcs {

class PathPolicy {
 public:
  // fsRoot: where the guest's "/" is on this machine ("" in a VM: "/"); an
  // agent that runs in a test's process keeps its guest filesystem there.
  explicit PathPolicy(std::vector<std::string> roots, std::string fsRoot = "");
  // check returns the normalized path (under fsRoot), or InvalidArgument
  // naming `field`.
  StatusOr<std::string> check(std::string_view path, std::string_view field) const;
  const std::vector<std::string>& roots() const { return roots_; }

 private:
  bool inside(const std::string& path) const;
  std::string fsRoot_;
  std::vector<std::string> roots_;  // normalized, under fsRoot_, symlinks resolved
};

// Mounter: mount(2) and umount(2), a seam so tests can watch what happens.
class Mounter {
 public:
  virtual ~Mounter() = default;
  virtual Status mount(const std::string& source, const std::string& target, const std::string& fstype,
                       unsigned long flags, const std::string& data) = 0;
  virtual Status unmount(const std::string& target) = 0;
  virtual bool isMountPoint(const std::string& path) const = 0;
  // mountImage mounts a disk image file (through a loop device that goes
  // away with the unmount) or a block device. offset/size select a part of
  // the image (0 = all).
  virtual Status mountImage(const std::string& image, const std::string& target, const std::string& fstype,
                            bool readOnly, uint64_t offset, uint64_t size) = 0;
  // mount9p mounts a Plan9 share the host serves on vsock port `port`
  // (CID 2) - the Linux utility VM's way of sharing host directories.
  virtual Status mount9p(uint32_t port, const std::string& share, const std::string& target, bool readOnly) = 0;
};

class LinuxMounter final : public Mounter {
 public:
  Status mount(const std::string& source, const std::string& target, const std::string& fstype, unsigned long flags,
               const std::string& data) override;
  // unmount: a plain umount, then a lazy one if the target is busy.
  Status unmount(const std::string& target) override;
  bool isMountPoint(const std::string& path) const override;
  Status mountImage(const std::string& image, const std::string& target, const std::string& fstype, bool readOnly,
                    uint64_t offset, uint64_t size) override;
  Status mount9p(uint32_t port, const std::string& share, const std::string& target, bool readOnly) override;
};

// overlayOptions: lowerdir (layers, top-most first) [+ upperdir/workdir under
// scratch: <scratch>/upper, or <scratch>/fs when the scratch is a containerd
// overlay snapshot (fs + work) that has no upper/].
std::string overlayOptions(const std::vector<std::string>& layers, const std::string& scratch);
std::string scratchUpperDir(const std::string& scratch);

}  // namespace hcsshim::gcs
