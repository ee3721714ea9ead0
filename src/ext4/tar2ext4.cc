#include "src/ext4/tar2ext4.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>

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

// finishImage: the file system's metadata, then the trailers the options ask for.
StatusOr<Tar2Ext4Result> finishImage(CompactWriter& w, int outFd, const Tar2Ext4Options& options) {
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
  if (options.padTo > 1 && r.totalBytes % options.padTo) {
    r.totalBytes += options.padTo - r.totalBytes % options.padTo;
    if (::ftruncate(outFd, static_cast<off_t>(r.totalBytes)) != 0) return Status(Code::kUnavailable, "padding the image");
  }
  if (options.appendVhdFooter) {
    std::string footer = vhdFooter(r.totalBytes, id);
    ssize_t n = ::pwrite(outFd, footer.data(), footer.size(), static_cast<off_t>(r.totalBytes));
    if (n != static_cast<ssize_t>(footer.size())) return Status(Code::kUnavailable, "writing the VHD footer");
    r.totalBytes += footer.size();
  }
  return r;
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
  return finishImage(w, outFd, options);
}

namespace {

Status errnoAt(const std::string& path, const char* what) {
  return Status(Code::kUnavailable, path + ": " + what + ": " + std::strerror(errno));
}

StatusOr<std::map<std::string, std::string>> xattrsOf(const std::string& path) {
  std::map<std::string, std::string> out;
  std::vector<char> names(65536);
  ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) {
    if (errno == ENOTSUP) return out;
    return errnoAt(path, "listxattr");
  }
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names.data() + i)) + 1) {
    std::string name = names.data() + i;
    std::vector<char> value(65536);
    ssize_t len = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (len < 0) return errnoAt(path, ("getxattr " + name).c_str());
    out[name] = std::string(value.data(), static_cast<size_t>(len));
  }
  return out;
}

struct DirectoryWalk {
  CompactWriter& w;
  std::map<std::pair<dev_t, ino_t>, std::string> linked;  // hard links: the first path of each inode
  std::vector<char> buf = std::vector<char>(1 << 20);

  Status copyData(const std::string& path, const struct stat& st, const std::string& rel) {
    // O_NOATIME: reading the tree must not change it (the same tree, the
    // same image); only the owner or root may ask for it.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errnoAt(path, "open");
    Status result = OkStatus();
    off_t size = st.st_size, at = 0;
    while (at < size && result.ok()) {
      off_t data = ::lseek(fd, at, SEEK_DATA);
      if (data < 0) break;  // the rest is a hole
      off_t hole = ::lseek(fd, data, SEEK_HOLE);
      if (hole < 0) hole = size;
      for (off_t o = data; o < hole && result.ok();) {
        ssize_t n = ::pread(fd, buf.data(), static_cast<size_t>(std::min<off_t>(hole - o, static_cast<off_t>(buf.size()))), o);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          result = n < 0 ? errnoAt(path, "read") : Status(Code::kDataLoss, path + ": shorter than its size");
          break;
        }
        result = w.write(static_cast<uint64_t>(o), std::string_view(buf.data(), static_cast<size_t>(n)));
        o += n;
      }
      at = hole;
    }
    ::close(fd);
    if (!result.ok()) return Status(result.code(), rel + ": " + result.message());
    return OkStatus();
  }

  Status walk(const std::string& dir, const std::string& rel, int depth) {
    if (depth > 4096) return InvalidArgumentError(rel + ": nested too deep");
    HCS_ASSIGN_OR_RETURN(std::vector<std::string> names, sortedEntries(dir));
    for (const auto& name : names) {
      std::string path = dir + "/" + name, child = rel.empty() ? name : rel + "/" + name;
      struct stat st{};
      if (::lstat(path.c_str(), &st) != 0) return errnoAt(path, "lstat");
      if (S_ISSOCK(st.st_mode)) continue;
      if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        auto first = linked.find({st.st_dev, st.st_ino});
        if (first != linked.end()) {
          HCS_RETURN_IF_ERROR(w.link(first->second, child));
          continue;
        }
        linked[{st.st_dev, st.st_ino}] = child;
      }
      FileInfo info;
      info.mode = st.st_mode;
      info.uid = st.st_uid;
      info.gid = st.st_gid;
      info.size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
      // atime is the mtime: reading a tree changes its access times (even
      // readlink does), and the same tree must make the same image.
      info.mtime = Timestamp{st.st_mtim.tv_sec, static_cast<uint32_t>(st.st_mtim.tv_nsec)};
      info.atime = info.mtime;
      info.ctime = Timestamp{st.st_ctim.tv_sec, static_cast<uint32_t>(st.st_ctim.tv_nsec)};
      info.crtime = info.mtime;
      info.devMajor = major(st.st_rdev);
      info.devMinor = minor(st.st_rdev);
      HCS_ASSIGN_OR_RETURN(info.xattrs, xattrsOf(path));
      std::string target;
      if (S_ISLNK(st.st_mode)) {
        std::vector<char> t(4096);
        ssize_t n = ::readlink(path.c_str(), t.data(), t.size());
        if (n < 0) return errnoAt(path, "readlink");
        target.assign(t.data(), static_cast<size_t>(n));
      }
      HCS_RETURN_IF_ERROR(w.create(child, info, target));
      if (S_ISREG(st.st_mode)) HCS_RETURN_IF_ERROR(copyData(path, st, child));
      if (S_ISDIR(st.st_mode)) HCS_RETURN_IF_ERROR(walk(path, child, depth + 1));
    }
    return OkStatus();
  }
};

}  // namespace

StatusOr<std::vector<std::string>> sortedEntries(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);  // listing must not touch atime
  if (dfd < 0 && errno == EPERM) dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = dfd < 0 ? nullptr : ::fdopendir(dfd);
  if (!d) {
    if (dfd >= 0) ::close(dfd);
    return errnoAt(dir, "opendir");
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

StatusOr<Tar2Ext4Result> convertDirectory(const std::string& dir, int outFd, const Tar2Ext4Options& options) {
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return NotFoundError(dir + " is not a directory");
  }
  CompactWriter w(outFd, WriterOptions{.maximumDiskSize = options.maximumDiskSize, .inlineData = options.inlineData});
  FileInfo root;
  root.mode = st.st_mode;
  root.uid = st.st_uid;
  root.gid = st.st_gid;
  root.mtime = root.crtime = root.atime = Timestamp{st.st_mtim.tv_sec, static_cast<uint32_t>(st.st_mtim.tv_nsec)};
  root.ctime = Timestamp{st.st_ctim.tv_sec, static_cast<uint32_t>(st.st_ctim.tv_nsec)};
  HCS_ASSIGN_OR_RETURN(root.xattrs, xattrsOf(dir));
  HCS_RETURN_IF_ERROR(w.create("", root));
  DirectoryWalk walk{w};
  HCS_RETURN_IF_ERROR(walk.walk(dir, "", 0));
  return finishImage(w, outFd, options);
}

}  // namespace hcsshim::ext4
