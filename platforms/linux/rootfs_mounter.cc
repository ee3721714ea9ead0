#include "platforms/linux/rootfs_mounter.h"

#include <sys/mount.h>

#include <cerrno>
#include <filesystem>

namespace hcsshim::platforms {

Status LinuxRootfsMounter::mount(const shim::Mounts& mounts, const std::string& target) {
  std::error_code ec;
  std::filesystem::create_directories(target, ec);
  for (const auto& m : mounts) {
    std::string data;
    unsigned long flags = 0;
    for (const auto& opt : m.options()) {
      if (opt == "ro") {
        flags |= MS_RDONLY;
      } else if (opt == "rbind") {
        flags |= MS_BIND | MS_REC;
      } else if (opt == "bind") {
        flags |= MS_BIND;
      } else {
        data += (data.empty() ? "" : ",") + opt;
      }
    }
    std::string type = m.type() == "bind" ? "" : m.type();
    if (::mount(m.source().c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) < 0) {
      return errnoStatus(errno, "mount " + m.type() + " rootfs", target);
    }
  }
  return OkStatus();
}

void LinuxRootfsMounter::unmount(const std::string& target) { ::umount2(target.c_str(), MNT_DETACH); }

}  // namespace hcsshim::platforms
