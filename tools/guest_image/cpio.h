// cpio.h: a deterministic writer of the "newc" cpio format the Linux kernel
// unpacks as its initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst).
//
// Each member: the 6-byte magic "070701", thirteen 8-digit upper-case hex
// fields (ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
// rdevmajor, rdevminor, namesize including the NUL, check = 0), the name and
// its NUL padded to a multiple of 4 bytes (counting the 110-byte header),
// then the data padded to 4. The archive ends with the member "TRAILER!!!".
//
// Same entries, same bytes: members are written sorted by path (a parent
// before its children), inode numbers are their position, and owner, times
// and device numbers are only what the entry says (default 0) - never the
// builder's files' metadata.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "src/common/status.h"

namespace hcsshim::guest_image {

struct CpioEntry {
  enum class Kind { kFile, kDir, kSymlink, kCharDev } kind = Kind::kFile;
  uint32_t mode = 0644;  // permission bits only
  std::string data;      // file content or symlink target
  uint32_t rdevMajor = 0, rdevMinor = 0;
};

class CpioArchive {
 public:
  // add: `path` is absolute inside the archive ("/bin/gcs"); missing parent
  // directories are added (0755). InvalidArgument for a relative path, "..",
  // an empty component, or a path already added as something else.
  Status add(const std::string& path, CpioEntry entry);
  bool contains(const std::string& path) const { return entries_.count(normalise(path)) > 0; }
  // serialise: the archive's bytes.
  std::string serialise() const;
  size_t size() const { return entries_.size(); }

 private:
  static std::string normalise(const std::string& path);
  std::map<std::string, CpioEntry> entries_;  // key: path without the leading '/'
};

}  // namespace hcsshim::guest_image
