// boot.h: what every program at the start of a utility VM needs (header
// only: /init and vsockexec are static binaries with no other dependency,
// and gcs --init uses the same mounts when another init started it).
#pragma once

#include <errno.h>
#include <linux/vm_sockets.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string.h>

namespace hcsshim::guest_boot {

struct BootMount {
  const char *source, *target, *type;
  unsigned long flags;
  const char* data;
};

// kBootMounts: /proc, /sys, /dev, /run, /tmp and the cgroup v2 hierarchy.
inline constexpr BootMount kBootMounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, nullptr},
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr},
};

// isMountPoint: path is on another filesystem than its parent.
inline bool isMountPoint(const char* path) {
  struct stat self {}, parent {};
  char up[256];
  size_t n = strnlen(path, sizeof up - 1);
  memcpy(up, path, n);
  up[n] = '\0';
  char* slash = strrchr(up, '/');
  if (!slash) return false;
  if (slash == up) slash[1] = '\0';  // the parent of /x is /
  else *slash = '\0';
  return stat(path, &self) == 0 && stat(up, &parent) == 0 && self.st_dev != parent.st_dev;
}

// mountBoot mounts what is not mounted yet (a second tmpfs on /run would
// hide what the first program there put in it); onError(target, errno).
template <typename OnError>
void mountBoot(OnError onError) {
  for (const auto& m : kBootMounts) {
    mkdir(m.target, 0755);
    if (isMountPoint(m.target)) continue;
    if (mount(m.source, m.target, m.type, m.flags, m.data) < 0 && errno != EBUSY) onError(m.target, errno);
  }
}

// dialHost: a vsock stream to host (CID 2) port `port`, retried every
// 100 ms up to `attempts` times while nothing answers; -1 (errno) after.
inline int dialHost(unsigned port, int attempts = 50, int flags = SOCK_CLOEXEC) {
  for (int attempt = 0; attempt < attempts; ++attempt) {
    int fd = socket(AF_VSOCK, SOCK_STREAM | flags, 0);
    if (fd < 0) return -1;
    sockaddr_vm a{};
    a.svm_family = AF_VSOCK;
    a.svm_cid = VMADDR_CID_HOST;
    a.svm_port = port;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    int err = errno;
    close(fd);
    if (err != ETIMEDOUT && err != ECONNRESET && err != ECONNREFUSED) {
      errno = err;
      return -1;
    }
    usleep(100 * 1000);
  }
  return -1;
}

}  // namespace hcsshim::guest_boot
