#include "src/ext4/tar2ext4.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "src/common/sha256.h"
#include "src/ext4/image_trailers.h"
#include "src/tar/tar_reader.h"

namespace hcsshim::ext4 {

namespace {

constexpr const char* kWhiteoutPrefix = ".wh.";
constexpr const char* kOpaqueMarker = ".wh..wh..opq";

uint32_t typeBits(tar::EntryType t) {
  switch (t) {
    case tar::EntryType::kRegular: return S_IFREG;
    case tar::EntryType::kSymlink: return S_IFLNK;
    case tar::EntryType::kCharDevice: return S_IFCHR;
    case tar::EntryType::kBlockDevice: return S_IFBLK;
    case tar::EntryType::kDirectory: return S_IFDIR;
    case tar::EntryType::kFifo: return S_IFIFO;
    case tar::EntryType::kHardLink: return 0;
  }
  return 0;
}

Timestamp ts(const tar::Time& t) { return Timestamp{t.sec, t.nsec}; }

// The digest of everything written so far: the source of ids that must be
// the same for the same input.
StatusOr<std::array<uint8_t, 32>> digestOf(int fd, uint64_t bytes) {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (uint64_t off = 0; off < bytes;) {
    ssize_t n = ::pread(fd, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - off)), static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status(Code::kUnavailable, "reading the image back");
    h.update(std::string_view(buf.data(), static_cast<size_t>(n)));
    off += static_cast<uint64_t>(n);
  }
  return h.digest();
}

}  // namespace

StatusOr<std::string> normalizeMemberPath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return InvalidArgumentError("member " + path + ": an absolute path");
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "..") return InvalidArgumentError("member " + path + ": a \"..\" component leaves the layer");
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = end + 1;
  }
  return out;
}

StatusOr<Tar2Ext4Result> convert(int tarFd, int outFd, const Tar2Ext4Options& options) {
  CompactWriter w(outFd, WriterOptions{.maximumDiskSize = options.maximumDiskSize, .inlineData = options.inlineData});
  tar::TarReader reader(tarFd);
  FileInfo rootInfo;
  rootInfo.mode = S_IFDIR | 0755;
  // Parents a member needs, made like the root until their own member comes.
  auto makeParents = [&](const std::string& path) -> Status {
    size_t slash = 0;
    while ((slash = path.find('/', slash)) != std::string::npos) {
      std::string dir = path.substr(0, slash++);
      if (w.isDirectory(dir)) continue;
      if (w.exists(dir)) return FailedPreconditionError("member " + path + ": " + dir + " is not a directory");
      FileInfo d = rootInfo;
      d.xattrs.clear();
      HCS_RETURN_IF_ERROR(w.create(dir, d));
    }
    return OkStatus();
  };
  std::vector<char> buf(1 << 20);
  tar::TarEntry e;
  for (;;) {
    auto more = reader.next(&e);
    if (!more.ok()) return more.status();
    if (!*more) break;
    auto path = normalizeMemberPath(e.path);
    if (!path.ok()) return path.status();
    std::string name = path->substr(path->rfind('/') == std::string::npos ? 0 : path->rfind('/') + 1);
    std::string dir = path->size() > name.size() ? path->substr(0, path->size() - name.size() - 1) : "";
    FileInfo info;
    info.mode = typeBits(e.type) | e.mode;
    info.uid = e.uid;
    info.gid = e.gid;
    info.size = e.type == tar::EntryType::kRegular ? e.size : 0;
    info.atime = ts(e.atime);
    info.mtime = ts(e.mtime);
    info.ctime = ts(e.ctime);
    info.crtime = ts(e.mtime);
    info.devMajor = e.devMajor;
    info.devMinor = e.devMinor;
    info.xattrs = e.xattrs;
    auto named = [&](const Status& st) {
      std::string m = st.message();
      return m.rfind("member ", 0) == 0 ? st : Status(st.code(), "member " + e.path + ": " + m);
    };
    if (path->empty()) {  // the root's own member
      if (e.type != tar::EntryType::kDirectory) return InvalidArgumentError("member " + e.path + ": the root is not a directory");
      rootInfo = info;
      HCS_RETURN_IF_ERROR(w.create("", info));
      continue;
    }
    Status made = makeParents(*path);
    if (!made.ok()) return named(made);
    if (options.convertWhiteout && name == kOpaqueMarker) {
      Status st = w.setXattr(dir, "trusted.overlay.opaque", "y");
      if (!st.ok()) return named(st);
      continue;
    }
    if (options.convertWhiteout && name.rfind(kWhiteoutPrefix, 0) == 0) {
      std::string hidden = name.substr(std::strlen(kWhiteoutPrefix));
      if (hidden.empty()) return InvalidArgumentError("member " + e.path + ": a whiteout of nothing");
      info.mode = S_IFCHR | (e.mode & 07777);
      info.size = 0;
      info.devMajor = info.devMinor = 0;
      Status st = w.create(dir.empty() ? hidden : dir + "/" + hidden, info);
      if (!st.ok()) return named(st);
      continue;
    }
    if (e.type == tar::EntryType::kHardLink) {
      auto target = normalizeMemberPath(e.linkTarget);
      if (!target.ok() || target->empty()) {
        return InvalidArgumentError("member " + e.path + ": hard link to " + e.linkTarget + ", outside the layer");
      }
      Status st = w.link(*target, *path);
      if (!st.ok()) return named(st);
      continue;
    }
    Status st = w.create(*path, info, e.type == tar::EntryType::kSymlink ? e.linkTarget : std::string());
    if (!st.ok()) return named(st);
    if (e.type != tar::EntryType::kRegular) continue;
    // The data: back to back, or region by region for a sparse file.
    std::vector<std::pair<uint64_t, uint64_t>> regions = e.sparse;
    if (regions.empty()) regions.emplace_back(0, e.size);
    for (const auto& [offset, length] : regions) {
      uint64_t at = offset, left = length;
      while (left > 0) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        auto n = reader.read(buf.data(), want);
        if (!n.ok()) return n.status();
        if (*n == 0) return Status(Code::kDataLoss, "member " + e.path + ": its data ends early");
        Status ws = w.write(at, std::string_view(buf.data(), *n));
        if (!ws.ok()) return named(ws);
        at += *n;
        left -= *n;
      }
    }
  }
  auto size = w.finish();
  if (!size.ok()) return size.status();
  Tar2Ext4Result r;
  r.ext4Bytes = r.totalBytes = *size;
  std::array<uint8_t, 16> id{};
  if (options.appendDmVerity || options.appendVhdFooter) {
    auto digest = digestOf(outFd, *size);
    if (!digest.ok()) return digest.status();
    std::memcpy(id.data(), digest->data(), 16);
    id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);  // shaped like a version 4 UUID
    id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
  }
  if (options.appendDmVerity) {
    uint64_t added = 0;
    auto root = appendDmVerity(outFd, *size, id, &added);
    if (!root.ok()) return root.status();
    r.verityRootHash = *root;
    r.totalBytes += added;
  }
  if (options.appendVhdFooter) {
    std::string footer = vhdFooter(r.totalBytes, id);
    ssize_t n = ::pwrite(outFd, footer.data(), footer.size(), static_cast<off_t>(r.totalBytes));
    if (n != static_cast<ssize_t>(footer.size())) return Status(Code::kUnavailable, "writing the VHD footer");
    r.totalBytes += footer.size();
  }
  return r;
}

}  // namespace hcsshim::ext4
