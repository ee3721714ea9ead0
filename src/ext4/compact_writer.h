// compact_writer.h: writes a compact, read-only ext4 file system - the image
// hcsshim's tar2ext4 makes of a container layer - in one pass.
//
// On-disk format (ext4, as the kernel and e2fsprogs read it):
//   4096-byte blocks, 32768 blocks per group, 256-byte inodes with 24 extra
//   bytes (nanosecond times, crtime), 32-byte group descriptors, no
//   journal, no resize inode, no backup superblocks (sparse_super2 with
//   none), no checksums, no dir_index. Features: compat EXT_ATTR |
//   SPARSE_SUPER2; incompat FILETYPE | EXTENTS | FLEX_BG (log 31)
//   [| INLINE_DATA]; ro_compat LARGE_FILE | HUGE_FILE | EXTRA_ISIZE |
//   READONLY (the kernel refuses a read-write mount).
//   Layout: block 0 (superblock at byte 1024), blocks 1..D the group
//   descriptors, D sized for the maximum disk size (1 block for 16 GiB);
//   then file data and directories in the order they come; then the inode
//   table of every group; then each group's block and inode bitmap; then
//   zeros up to the last group's first block. Inode 2 is the root, 11
//   lost+found, tar members from 12 on.
//   Files: extents (up to 4 in the inode, else one level of index blocks);
//   symlinks up to 59 bytes in the inode; devices in i_block; xattrs in the
//   inode when they fit its 100 bytes, else in one xattr block (sorted,
//   hashed as the kernel checks them). UUID, label, hash seed and all
//   superblock times are zero: the same calls make the same bytes.
//
// Use: create() members in any order (parents first), stream a regular
// file's bytes with write() right after its create(), then finish(). Errors
// name the path. The writer owns nothing but its own state: the caller
// opens and removes the output file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/status.h"

namespace hcsshim::ext4 {

inline constexpr uint32_t kBlockSize = 4096;
inline constexpr uint64_t kDefaultMaximumDiskSize = uint64_t{16} << 30;
inline constexpr uint64_t kMaxFileSize = uint64_t{128} << 30;

struct Timestamp {
  int64_t sec = 0;
  uint32_t nsec = 0;
};

// FileInfo: what a tar member says about a file. mode carries the type
// (S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK).
struct FileInfo {
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;  // regular files: the logical size (sparse ones too)
  Timestamp atime, mtime, ctime, crtime;
  uint32_t devMajor = 0, devMinor = 0;
  std::map<std::string, std::string> xattrs;  // full names: "user.a", "security.capability"
};

struct WriterOptions {
  uint64_t maximumDiskSize = kDefaultMaximumDiskSize;
  bool inlineData = false;  // small files in the inode (INLINE_DATA)
};

class CompactWriter {
 public:
  // fd: the output, written from offset 0 (pwrite); not closed.
  CompactWriter(int fd, WriterOptions options = {});
  ~CompactWriter();
  CompactWriter(const CompactWriter&) = delete;
  CompactWriter& operator=(const CompactWriter&) = delete;

  // create: the file at `path` (relative, '/'-separated, normalised: no
  // "", "." or ".." components; "" is the root). Its parent must be a
  // directory already. A directory created again keeps its entries and takes
  // the new info; any other existing file is replaced (a directory cannot be
  // replaced by a non-directory). `target` is a symlink's target.
  Status create(const std::string& path, const FileInfo& info, const std::string& target = {});
  // write: bytes of the regular file created last, at `offset` (offsets
  // must not go back; a gap is a hole). Beyond info.size is an error.
  Status write(uint64_t offset, std::string_view data);
  // link: a hard link at `path` to the existing non-directory `existing`.
  Status link(const std::string& existing, const std::string& path);
  // setXattr: on an existing file (overlay's opaque marker).
  Status setXattr(const std::string& path, const std::string& name, const std::string& value);
  // exists / isDirectory: what `path` is now.
  bool exists(const std::string& path) const;
  bool isDirectory(const std::string& path) const;
  // finish: directories, inode table, bitmaps, superblock. Returns the
  // image's size in bytes (a multiple of 4096). Nothing may follow.
  StatusOr<uint64_t> finish();

 private:
  struct Node;
  struct Extent {
    uint32_t logical = 0, length = 0;
    uint64_t physical = 0;
  };
  StatusOr<uint32_t> lookup(const std::string& path) const;
  StatusOr<uint32_t> parentOf(const std::string& path, std::string* name) const;
  uint32_t newInode();
  void unlinkEntry(uint32_t dir, const std::string& name);
  Status flushBlock();
  Status appendBlocks(std::string_view data, std::vector<Extent>* extents, uint32_t logical);
  Status writeAt(uint64_t offset, std::string_view data);
  Status encodeExtents(Node& n, std::string& iblock);
  std::string encodeInode(const Node& n);
  std::string directoryBlocks(uint32_t ino) const;
  Status placeXattrs(Node& n);

  int fd_;
  WriterOptions options_;
  std::vector<std::unique_ptr<Node>> nodes_;  // index = inode number; [0], [1], [3..10] unused
  uint64_t nextBlock_;                        // next free block for data
  uint32_t descriptorBlocks_;
  // The regular file being written.
  uint32_t current_ = 0;
  uint64_t currentBlock_ = UINT64_MAX;  // logical block in the buffer
  std::string buffer_;
  bool finished_ = false;
};

}  // namespace hcsshim::ext4
