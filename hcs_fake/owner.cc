#include "hcs_fake/owner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "src/common/log.h"

namespace hcsshim::hcs_fake {

namespace fs = std::filesystem;

namespace {

// The inode of the PID namespace /proc/<pid>/ns/pid shows, as text.
std::string pidNamespaceOf(const std::string& proc) {
  struct stat st;
  if (::stat((proc + "/ns/pid").c_str(), &st) != 0) return "";
  return std::to_string(static_cast<unsigned long long>(st.st_ino));
}

bool allDigits(std::string_view s) {
  return !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// openLockFile: the owner's lock file, read-only, refusing symlinks and
// anything that is not a regular file; -1 with errno otherwise.
int openLockFile(const std::string& path, bool create) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (create ? O_CREAT : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

}  // namespace

std::string ownerNameOf(int pid) {
  if (pid <= 0) return "";
  // /proc/self, not /proc/<pid>: the process may be gone, and a /proc
  // mounted for another PID namespace shows someone else under that pid.
  std::string ns = pidNamespaceOf("/proc/self");
  return ns.empty() ? "" : ns + "-" + std::to_string(pid);
}

bool isOwnerName(std::string_view name) {
  size_t dash = name.find('-');
  return dash != std::string_view::npos && allDigits(name.substr(0, dash)) && allDigits(name.substr(dash + 1));
}

OwnerLock::OwnerLock(std::string lockDir) : dir_(std::move(lockDir)), name_(ownerNameOf(getpid())) {
  if (name_.empty()) {
    error_ = "/proc/self/ns/pid is not readable";
    return;
  }
  // Like /tmp: every user's daemons keep their lock here.
  if (::mkdir(dir_.c_str(), 01777) == 0) (void)::chmod(dir_.c_str(), 01777);
  std::string path = dir_ + "/" + name_;
  int fd = openLockFile(path, true);
  if (fd < 0) {
    error_ = path + ": " + std::strerror(errno);
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error_ = path + ": locked by another process (" + std::strerror(errno) + ")";
    ::close(fd);
    return;
  }
  fd_ = fd;
}

OwnerLock::~OwnerLock() {
  if (fd_ < 0) return;
  ::unlink((dir_ + "/" + name_).c_str());
  ::close(fd_);
}

bool ownerGone(const std::string& owner, const std::string& lockDir) {
  if (!isOwnerName(owner)) return false;
  int fd = openLockFile(lockDir + "/" + owner, false);
  if (fd >= 0) {
    bool gone = ::flock(fd, LOCK_EX | LOCK_NB) == 0;  // closing drops it again
    ::close(fd);
    return gone;
  }
  if (errno != ENOENT) return false;
  size_t dash = owner.find('-');
  if (owner.substr(0, dash) != pidNamespaceOf("/proc/self")) return false;  // not ours to judge
  long long pid = std::stoll(owner.substr(dash + 1));
  if (pid <= 0 || pid > 0x3fffffff || pid == getpid()) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

int forgetGoneOwners(const std::set<std::string>& stillOwning, const std::string& lockDir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(lockDir, ec)) {
    std::string owner = e.path().filename().string();
    if (!isOwnerName(owner) || stillOwning.count(owner) || !ownerGone(owner, lockDir)) continue;
    if (::unlink(e.path().c_str()) == 0) ++removed;
  }
  return removed;
}

std::set<std::string> removeDeadDaemonDirs(const std::string& parent, const std::string& prefix,
                                           const std::string& lockDir) {
  std::set<std::string> left;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string owner = name.substr(prefix.size());
    if (!ownerGone(owner, lockDir)) continue;
    std::error_code rm;
    fs::remove_all(e.path(), rm);
    if (rm) left.insert(owner);
    HLOG(Info, "hcs_fake.stale_dir_removed").kv("dir", e.path().string()).kv("error", rm ? rm.message() : "");
  }
  return left;
}

}  // namespace hcsshim::hcs_fake
