#include "platforms/linux/layer_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "src/common/log.h"
#include "src/common/sha256.h"
#include "src/ext4/tar2ext4.h"

namespace hcsshim::platforms {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kPmemAlign = 2 << 20;

Status errnoAt(const std::string& what) { return Status(Code::kUnavailable, what + ": " + std::strerror(errno)); }

// Lock: the store's flock, held for one change.
class Lock {
 public:
  static StatusOr<Lock> take(const std::string& root) {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return Status(Code::kUnavailable, "layer store " + root + ": " + ec.message());
    int fd = ::open((root + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errnoAt("layer store lock " + root);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd);
        return errnoAt("flock " + root);
      }
    }
    return Lock(fd);
  }
  Lock(Lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~Lock() {
    if (fd_ >= 0) ::close(fd_);  // unlocks
  }

 private:
  explicit Lock(int fd) : fd_(fd) {}
  int fd_;
};

std::string hex(const std::array<uint8_t, 32>& d) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out.push_back(k[b >> 4]);
    out.push_back(k[b & 15]);
  }
  return out;
}

Status walkKey(const std::string& dir, const std::string& rel, Sha256& h, int depth) {
  if (depth > 4096) return InvalidArgumentError(dir + ": nested too deep");
  HCS_ASSIGN_OR_RETURN(std::vector<std::string> names, ext4::sortedEntries(dir));
  for (const auto& n : names) {
    std::string path = dir + "/" + n, child = rel + "/" + n;
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return errnoAt("lstat " + path);
    std::string rec = child + '\0' + std::to_string(st.st_mode) + ' ' + std::to_string(st.st_uid) + ' ' +
                      std::to_string(st.st_gid) + ' ' + std::to_string(st.st_size) + ' ' +
                      std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec) + ' ' +
                      std::to_string(st.st_rdev) + ' ' + std::to_string(st.st_nlink);
    if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t len = ::readlink(path.c_str(), t, sizeof t);
      if (len > 0) rec.append(t, static_cast<size_t>(len));
    }
    char names[4096];
    ssize_t xl = ::llistxattr(path.c_str(), names, sizeof names);
    for (ssize_t i = 0; i < xl; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
      char v[4096];
      ssize_t vl = ::lgetxattr(path.c_str(), names + i, v, sizeof v);
      rec += std::string("\0x:", 3) + (names + i) + "=" + std::string(v, static_cast<size_t>(std::max<ssize_t>(vl, 0)));
    }
    rec.push_back('\n');
    h.update(rec);
    if (S_ISDIR(st.st_mode)) HCS_RETURN_IF_ERROR(walkKey(path, child, h, depth + 1));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::string> LayerStore::contentKey(const std::string& dir) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return NotFoundError("layer " + dir + " is not a directory");
  Sha256 h;
  h.update("hcsshim-cpp layer v1\n");  // a new image format gets new keys
  HCS_RETURN_IF_ERROR(walkKey(dir, "", h, 0));
  return hex(h.digest());
}

StatusOr<std::string> LayerStore::acquire(const std::string& dir, const std::string& owner) {
  HCS_ASSIGN_OR_RETURN(std::string key, contentKey(dir));
  HCS_ASSIGN_OR_RETURN(Lock lock, Lock::take(root_));
  std::string entry = root_ + "/" + key, image = entry + "/layer.vhd";
  std::error_code ec;
  fs::create_directories(entry + "/refs", ec);
  if (ec) return Status(Code::kUnavailable, "layer store: " + entry + ": " + ec.message());
  if (!fs::exists(image, ec)) {
    std::string tmp = image + ".tmp-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errnoAt("layer store: " + tmp);
    ext4::Tar2Ext4Options o{.appendVhdFooter = true, .maximumDiskSize = uint64_t{128} << 30, .padTo = kPmemAlign};
    auto r = ext4::convertDirectory(dir, fd, o);
    ::close(fd);
    if (!r.ok()) {
      ::unlink(tmp.c_str());
      return Status(r.status().code(), "converting layer " + dir + ": " + r.status().message());
    }
    if (::rename(tmp.c_str(), image.c_str()) != 0) {
      Status st = errnoAt("layer store: rename " + tmp);
      ::unlink(tmp.c_str());
      return st;
    }
    HLOG(Info, "shim.layer.converted").kv("layer", dir).kv("image", image).kv("bytes", r->totalBytes);
  }
  std::string ref = entry + "/refs/" + sha256Hex(owner).substr(0, 32);
  int fd = ::open(ref.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errnoAt("layer store: " + ref);
  (void)!::write(fd, owner.data(), owner.size());
  ::close(fd);
  return image;
}

Status LayerStore::releaseAll(const std::string& owner) {
  std::error_code ec;
  if (!fs::exists(root_, ec)) return OkStatus();
  HCS_ASSIGN_OR_RETURN(Lock lock, Lock::take(root_));
  std::string mine = sha256Hex(owner).substr(0, 32);
  fs::remove(root_ + "/scratch/" + mine + ".img", ec);
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    if (!e.is_directory() || e.path().filename() == "scratch") continue;
    std::string refs = e.path().string() + "/refs";
    fs::remove(refs + "/" + mine, ec);
    bool held = false;
    for (const auto& r : fs::directory_iterator(refs, ec)) {
      (void)r;
      held = true;
      break;
    }
    if (!held) {
      fs::remove_all(e.path(), ec);
      HLOG(Info, "shim.layer.removed").kv("image", e.path().string() + "/layer.vhd");
    }
  }
  return OkStatus();
}

Status copySparse(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errnoAt("open " + from);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    ::close(in);
    return errnoAt("create " + to);
  }
  Status st = OkStatus();
  struct stat s{};
  ::fstat(in, &s);
  std::vector<char> buf(1 << 20);
  for (off_t at = 0; at < s.st_size && st.ok();) {
    off_t data = ::lseek(in, at, SEEK_DATA);
    if (data < 0) break;
    off_t hole = ::lseek(in, data, SEEK_HOLE);
    for (off_t o = data; o < hole && st.ok();) {
      ssize_t n = ::pread(in, buf.data(), static_cast<size_t>(std::min<off_t>(hole - o, static_cast<off_t>(buf.size()))), o);
      if (n <= 0 || ::pwrite(out, buf.data(), static_cast<size_t>(n), o) != n) st = errnoAt("copying " + from);
      o += std::max<ssize_t>(n, 1);
    }
    at = hole;
  }
  if (st.ok() && ::ftruncate(out, s.st_size) != 0) st = errnoAt("sizing " + to);
  ::close(in);
  ::close(out);
  if (!st.ok()) ::unlink(to.c_str());
  return st;
}

runtime::Task<StatusOr<std::string>> LayerStore::makeScratch(std::string owner, uint64_t bytes) {
  std::string pristine = root_ + "/scratch-" + std::to_string(bytes) + ".img";
  std::string path = root_ + "/scratch/" + sha256Hex(owner).substr(0, 32) + ".img";
  std::error_code ec;
  fs::create_directories(root_ + "/scratch", ec);
  if (!fs::exists(pristine, ec)) {
    // As hcsshim's create-scratch formats it (journal-less, no resize
    // inode), lazily initialised so that only metadata is written.
    std::string tmp = pristine + ".tmp-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) co_return errnoAt("scratch " + tmp);
    bool sized = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0;
    ::close(fd);
    if (!sized) co_return errnoAt("sizing " + tmp);
    runtime::ProcessSpec spec{.path = "mkfs.ext4",
                              .args = {"mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,nodiscard", "-O",
                                       "^has_journal,sparse_super2,^resize_inode", tmp}};
    spec.stdoutMode = runtime::StdioMode::kNull;
    Status made = co_await runtime::runCommand(rt_.processes(), spec);
    if (!made.ok()) {
      ::unlink(tmp.c_str());
      co_return Status(made.code(), "making the scratch disk (e2fsprogs): " + made.message());
    }
    if (::rename(tmp.c_str(), pristine.c_str()) != 0) co_return errnoAt("scratch " + pristine);
  }
  Status copied = copySparse(pristine, path);
  if (!copied.ok()) co_return copied;
  co_return path;
}

}  // namespace hcsshim::platforms
