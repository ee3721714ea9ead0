#include "hcs_fake/owner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>

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

namespace {

bool sameFile(int fd, const std::string& path) {
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::lstat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// pidOf: the pid part of an owner name, if it is of our PID namespace.
std::optional<pid_t> ourPid(const std::string& owner) {
  size_t dash = owner.find('-');
  if (owner.substr(0, dash) != pidNamespaceOf("/proc/self")) return std::nullopt;
  long long pid = std::stoll(owner.substr(dash + 1));
  if (pid <= 0 || pid > 0x3fffffff) return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool deadPid(pid_t pid) { return pid != getpid() && ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

OwnerLock::OwnerLock(std::string lockDir, std::string name, std::chrono::milliseconds wait)
    : dir_(std::move(lockDir)), name_(name.empty() ? ownerNameOf(getpid()) : std::move(name)) {
  if (name_.empty()) {
    error_ = "/proc/self/ns/pid is not readable";
    return;
  }
  // Like /tmp: every user's daemons keep their lock here.
  if (::mkdir(dir_.c_str(), 01777) == 0) (void)::chmod(dir_.c_str(), 01777);
  std::string path = dir_ + "/" + name_;
  auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    int fd = openLockFile(path, true);
    if (fd < 0) {
      error_ = path + ": " + std::strerror(errno);
      return;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      // A sweep that held it may have removed the file meanwhile: then
      // this lock is on a file nobody sees - make it again.
      if (sameFile(fd, path)) {
        fd_ = fd;
        return;
      }
      ::close(fd);
      continue;
    }
    ::close(fd);
    if (std::chrono::steady_clock::now() >= until) {
      error_ = path + ": still locked by another process (a sweep?) after " + std::to_string(wait.count()) + " ms";
      return;
    }
    ::usleep(10000);
  }
}

OwnerLock::~OwnerLock() {
  if (fd_ < 0) return;
  ::unlink((dir_ + "/" + name_).c_str());
  ::close(fd_);
}

GoneOwners::~GoneOwners() {
  for (auto& [owner, c] : claimed_) {
    if (c.made) ::unlink((dir_ + "/" + owner).c_str());  // it was only made to claim
    ::close(c.fd);
  }
}

bool GoneOwners::gone(const std::string& owner) {
  if (!isOwnerName(owner)) return false;
  if (claimed_.count(owner)) return true;
  if (alive_.count(owner)) return false;
  std::string path = dir_ + "/" + owner;
  struct stat st;
  bool existed = ::lstat(path.c_str(), &st) == 0;
  if (existed && !S_ISREG(st.st_mode)) return false;
  std::optional<pid_t> pid = ourPid(owner);
  if (!existed && !(pid && deadPid(*pid))) {
    alive_.insert(owner);  // no lock file, and not ours to judge (or alive)
    return false;
  }
  // Claim it: a daemon that takes this name now waits for us.
  if (::mkdir(dir_.c_str(), 01777) == 0) (void)::chmod(dir_.c_str(), 01777);
  int fd = openLockFile(path, !existed);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0 || !sameFile(fd, path)) {
    if (fd >= 0) ::close(fd);
    alive_.insert(owner);
    return false;
  }
  if (!existed && !(pid && deadPid(*pid))) {  // it came to life as we looked
    ::close(fd);
    alive_.insert(owner);
    return false;
  }
  claimed_[owner] = Claim{fd, !existed};
  return true;
}

int GoneOwners::forget(const std::set<std::string>& stillOwning) {
  int removed = 0;
  for (auto& [owner, c] : claimed_) {
    if (stillOwning.count(owner)) continue;
    if (::unlink((dir_ + "/" + owner).c_str()) == 0) ++removed;
    c.made = false;  // gone already
  }
  return removed;
}

bool ownerGone(const std::string& owner, const std::string& lockDir) { return GoneOwners(lockDir).gone(owner); }

std::set<std::string> removeDeadDaemonDirs(const std::string& parent, const std::string& prefix,
                                           const std::function<bool(const std::string&)>& gone) {
  std::set<std::string> left;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string owner = name.substr(prefix.size());
    if (!gone(owner)) continue;
    std::error_code rm;
    fs::remove_all(e.path(), rm);
    if (rm) left.insert(owner);
    HLOG(Info, "hcs_fake.stale_dir_removed").kv("dir", e.path().string()).kv("error", rm ? rm.message() : "");
  }
  return left;
}

}  // namespace hcsshim::hcs_fake
