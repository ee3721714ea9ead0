#include "gcs/storage.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "src/common/log.h"

namespace hcsshim::gcs {

namespace {

// normalize: absolute, no empty/./.. components; "" if the path breaks a rule.
std::string normalize(std::string_view p, std::string* why) {
  if (p.empty() || p[0] != '/') {
    *why = "must be an absolute path";
    return "";
  }
  if (p.size() > PATH_MAX) {
    *why = "is longer than PATH_MAX";
    return "";
  }
  std::string out;
  size_t i = 1;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view c = p.substr(i, j - i);
    if (c == "." || c == "..") {
      *why = "must not contain \".\" or \"..\" components";
      return "";
    }
    if (c.find('\0') != std::string_view::npos) {
      *why = "contains a NUL byte";
      return "";
    }
    if (!c.empty()) out += "/" + std::string(c);
    i = j + 1;
  }
  return out.empty() ? "/" : out;
}

// resolveExisting: realpath of the longest existing prefix, plus the rest.
std::string resolveExisting(const std::string& path) {
  std::string prefix = path;
  std::string rest;
  for (;;) {
    char buf[PATH_MAX];
    if (realpath(prefix.c_str(), buf)) {
      std::string r = buf;
      if (r == "/") r.clear();
      return r + rest;
    }
    auto slash = prefix.rfind('/');
    if (slash == std::string::npos || prefix == "/") return path;
    rest = prefix.substr(slash) + rest;
    prefix = slash == 0 ? "/" : prefix.substr(0, slash);
  }
}

}  // namespace

PathPolicy::PathPolicy(std::vector<std::string> roots, std::string fsRoot) : fsRoot_(std::move(fsRoot)) {
  while (!fsRoot_.empty() && fsRoot_.back() == '/') fsRoot_.pop_back();
  for (auto& r : roots) {
    std::string why;
    std::string n = normalize(r, &why);
    if (!n.empty()) roots_.push_back(resolveExisting(fsRoot_ + n));
  }
}

bool PathPolicy::inside(const std::string& path) const {
  for (const auto& r : roots_) {
    if (path == r || (path.size() > r.size() && path.compare(0, r.size(), r) == 0 && path[r.size()] == '/')) return true;
  }
  return false;
}

StatusOr<std::string> PathPolicy::check(std::string_view path, std::string_view field) const {
  std::string why;
  std::string n = normalize(path, &why);
  auto bad = [&](const std::string& w) {
    return Status::fromHResult(hresult::kInvalidArg, "", "", std::string(field) + ": \"" + std::string(path) + "\" " + w);
  };
  if (n.empty()) return bad(why);
  n = fsRoot_ + n;
  if (!inside(n)) return bad("is outside the agent's mount roots");
  if (!inside(resolveExisting(n))) return bad("escapes the agent's mount roots through a symlink");
  return n;
}

Status LinuxMounter::mount(const std::string& source, const std::string& target, const std::string& fstype,
                           unsigned long flags, const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) < 0) {
    return errnoStatus(errno, "mount " + fstype, target);
  }
  HLOG(Info, "gcs.mounted").kv("target", target).kv("fstype", fstype).kv("source", source);
  return OkStatus();
}

Status LinuxMounter::unmount(const std::string& target) {
  if (::umount2(target.c_str(), 0) < 0) {
    if (errno != EBUSY) return errnoStatus(errno, "umount", target);
    if (::umount2(target.c_str(), MNT_DETACH) < 0) return errnoStatus(errno, "umount -l", target);
  }
  HLOG(Info, "gcs.unmounted").kv("target", target);
  return OkStatus();
}

bool LinuxMounter::isMountPoint(const std::string& path) const {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mountPoint;
    f >> id >> parent >> dev >> root >> mountPoint;
    if (mountPoint == path) return true;
  }
  return false;
}

Status LinuxMounter::mountImage(const std::string& image, const std::string& target, const std::string& fstype,
                                bool readOnly, uint64_t offset, uint64_t size) {
  struct stat st {};
  if (::stat(image.c_str(), &st) < 0) return errnoStatus(errno, "stat", image);
  unsigned long flags = readOnly ? MS_RDONLY : 0;
  if (S_ISBLK(st.st_mode) && offset == 0 && size == 0) return mount(image, target, fstype, flags, "");
  // A file (or a slice of a device): attach it to a free loop device that
  // detaches itself when the mount goes (LO_FLAGS_AUTOCLEAR).
  int file = ::open(image.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (file < 0) return errnoStatus(errno, "open", image);
  int control = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    ::close(file);
    return errnoStatus(errno, "open /dev/loop-control");
  }
  Status result;
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ioctl(control, LOOP_CTL_GET_FREE);
    if (n < 0) {
      result = errnoStatus(errno, "LOOP_CTL_GET_FREE");
      break;
    }
    std::string dev = "/dev/loop" + std::to_string(n);
    int loop = ::open(dev.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (loop < 0) {
      result = errnoStatus(errno, "open", dev);
      break;
    }
    loop_config cfg{};
    cfg.fd = static_cast<uint32_t>(file);
    cfg.info.lo_offset = offset;
    cfg.info.lo_sizelimit = size;
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (readOnly ? LO_FLAGS_READ_ONLY : 0);
    if (ioctl(loop, LOOP_CONFIGURE, &cfg) < 0) {
      int err = errno;
      ::close(loop);
      if (err == EBUSY) continue;  // raced with another user of that device
      result = errnoStatus(err, "LOOP_CONFIGURE", dev);
      break;
    }
    result = mount(dev, target, fstype, flags, "");
    ::close(loop);  // the mount holds it now (or, on failure, it detaches)
    if (result.ok()) HLOG(Info, "gcs.loop.attached").kv("device", dev).kv("image", image);
    break;
  }
  ::close(control);
  ::close(file);
  return result;
}

Status LinuxMounter::mount9p(uint32_t port, const std::string& share, const std::string& target, bool readOnly) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errnoStatus(errno, "socket(AF_VSOCK)");
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_HOST;
  addr.svm_port = port;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    Status st = errnoStatus(errno, "connect vsock port " + std::to_string(port), share);
    ::close(fd);
    return st;
  }
  // The kernel's 9p client takes the connected socket (trans=fd) and keeps
  // its own reference; ours closes after the mount.
  std::string data = "trans=fd,rfdno=" + std::to_string(fd) + ",wfdno=" + std::to_string(fd) +
                     ",msize=65536,aname=" + share;
  Status st = mount(share, target, "9p", readOnly ? MS_RDONLY : 0, data);
  ::close(fd);
  return st;
}

std::string scratchUpperDir(const std::string& scratch) {
  struct stat st {};
  bool hasUpper = ::stat((scratch + "/upper").c_str(), &st) == 0;
  bool hasFs = ::stat((scratch + "/fs").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  return scratch + (!hasUpper && hasFs ? "/fs" : "/upper");
}

std::string overlayOptions(const std::vector<std::string>& layers, const std::string& scratch) {
  std::string o = "lowerdir=";
  for (size_t i = 0; i < layers.size(); ++i) o += (i ? ":" : "") + layers[i];
  if (!scratch.empty()) o += ",upperdir=" + scratchUpperDir(scratch) + ",workdir=" + scratch + "/work";
  return o;
}

}  // namespace hcsshim::gcs
