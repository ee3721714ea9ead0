// tar_reader.h: a streaming reader of tar archives - what container layers
// are.
//
// Formats (POSIX.1-2001 pax, ustar, GNU, v7): 512-byte headers
//   name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag
//   linkname[100] magic[6] version[2] uname[32] gname[32] devmajor[8]
//   devminor[8] prefix[155] (ustar; GNU keeps atime/ctime and an old
//   sparse map there), numbers in octal or, GNU, base-256 (high bit set);
//   the checksum is the byte sum of the header with its own field as spaces
//   (signed sums accepted too). Data follows in 512-byte records. Two zero
//   records (or the end of the input after one) end the archive.
// Extensions: GNU long names and link names ('L', 'K'); pax extended
//   headers ('x' for the next member, 'g' for all that follow: path,
//   linkpath, size, uid, gid, mtime, atime, ctime with fractions,
//   SCHILY.xattr.*); sparse files as GNU's old 'S' members and pax's
//   GNU.sparse 1.0 (map before the data). Other members' kinds are the
//   TarEntry types below; volume labels are skipped; anything else is an
//   error naming the member.
//
// Every error names the member (or the byte offset of a bad header) and is
// final: a truncated archive, a bad checksum, a malformed number or record,
// an extension header larger than 1 MiB.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/common/status.h"

namespace hcsshim::tar {

struct Time {
  int64_t sec = 0;
  uint32_t nsec = 0;
};

enum class EntryType { kRegular, kHardLink, kSymlink, kCharDevice, kBlockDevice, kDirectory, kFifo };

struct TarEntry {
  std::string path;  // as the archive has it (long names resolved)
  EntryType type = EntryType::kRegular;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;  // a regular file's logical size (a sparse file's real size)
  Time mtime, atime, ctime;
  std::string linkTarget;
  uint32_t devMajor = 0, devMinor = 0;
  std::map<std::string, std::string> xattrs;
  // A sparse file's data regions (offset, length), in order; empty: all data.
  std::vector<std::pair<uint64_t, uint64_t>> sparse;
};

class TarReader {
 public:
  // fd: read from its current position; not closed.
  explicit TarReader(int fd) : fd_(fd) {}
  // next: the next member (its data, if any, is then read with read()).
  // false at the end of the archive.
  StatusOr<bool> next(TarEntry* entry);
  // read: up to n bytes of the member's stored data (a sparse file's
  // regions back to back); 0 when it is all read.
  StatusOr<size_t> read(char* buf, size_t n);
  // bytesRead: of the input so far.
  uint64_t bytesRead() const { return offset_; }

 private:
  Status fill(char* buf, size_t n, const std::string& what);
  Status skip(uint64_t n, const std::string& what);
  StatusOr<std::string> readBody(uint64_t size, const std::string& what);
  Status applyPax(const std::string& records, std::map<std::string, std::string>& into, const std::string& what);
  Status readGnuSparse(const char* header, TarEntry* e);
  Status readPaxSparseMap(TarEntry* e);

  int fd_;
  uint64_t offset_ = 0;
  uint64_t dataLeft_ = 0, padding_ = 0;  // of the current member
  std::string current_;                  // its path, for errors
  std::map<std::string, std::string> global_;
  bool ended_ = false;
};

}  // namespace hcsshim::tar
