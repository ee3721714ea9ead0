// tar2ext4.h: a container layer's tar as a compact read-only ext4 image,
// as hcsshim's tar2ext4 makes it (the file system: compact_writer.h).
//
// Members: every tar kind (files, sparse files, directories, symlinks,
// hard links, character and block devices, fifos) with ownership, modes,
// times and xattrs (pax SCHILY.xattr.*). Paths lose a leading "./" and "."
// components; an absolute path, a ".." component or a hard link to
// something outside the archive is an error naming the member. Missing
// parent directories are created with the root's mode and owner and take
// their own when their member comes; a later member replaces an earlier one.
// convertWhiteout (overlay form): `.wh..wh..opq` sets trusted.overlay.opaque
// "y" on its directory; `.wh.<name>` becomes a 0:0 character device <name>.
//
// Output, in order: the ext4 image; with appendDmVerity its dm-verity
// superblock and hash tree (dmverity.h); with appendVhdFooter a fixed VHD
// footer (vhd_footer.h) whose unique id is derived from the content, so
// the same tar makes the same bytes. On any error the output is left for
// the caller to remove (tools/tar2ext4 does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/ext4/compact_writer.h"

namespace hcsshim::ext4 {

struct Tar2Ext4Options {
  bool convertWhiteout = false;
  bool appendVhdFooter = false;
  bool appendDmVerity = false;
  bool inlineData = false;
  uint64_t maximumDiskSize = kDefaultMaximumDiskSize;
  // padTo: zeros after the image (and tree) up to a multiple of this many
  // bytes, before the footer (QEMU's virtio-pmem maps 2 MiB multiples); 0: none.
  uint64_t padTo = 0;
};

struct Tar2Ext4Result {
  uint64_t ext4Bytes = 0;   // the file system
  uint64_t totalBytes = 0;  // with the hash tree and footer
  std::string verityRootHash;  // hex, with appendDmVerity
};

// convert reads the archive from tarFd and writes the image to outFd (from
// offset 0, a regular file).
StatusOr<Tar2Ext4Result> convert(int tarFd, int outFd, const Tar2Ext4Options& options);

// convertDirectory: a directory tree (a containerd overlay snapshot's fs/:
// whiteouts already 0:0 devices, opaque directories already marked) as the
// same compact image, its entries in name order (the same tree makes the
// same bytes). Hard links stay links, holes stay holes (SEEK_HOLE), xattrs
// are copied; sockets are skipped (tar cannot carry them either); access
// times are the modification times (reading the tree would change them).
StatusOr<Tar2Ext4Result> convertDirectory(const std::string& dir, int outFd, const Tar2Ext4Options& options);

// sortedEntries: the names in a directory (no "." or ".."), sorted, read
// without touching its access time where allowed (O_NOATIME).
StatusOr<std::vector<std::string>> sortedEntries(const std::string& dir);

// normalizeMemberPath: "./a//b/." -> "a/b"; "" or "." -> "" (the root).
// Absolute paths and ".." components are refused.
StatusOr<std::string> normalizeMemberPath(const std::string& path);

}  // namespace hcsshim::ext4
