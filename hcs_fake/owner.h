// Which daemon owns a host resource, and whether that daemon is provably gone.
//
// A daemon creates host resources outside its state directory: its VMs'
// cgroups (/hcs-fake-<owner>/...), its nftables table (hcs-fake-<owner>) and
// QEMU VM directories (/tmp/hcs-fake-qemu-<owner>). A daemon that was killed
// cannot remove them, so the next daemon that starts does - but only what it
// can prove is dead. A pid alone proves nothing: Bazel's linux-sandbox runs
// every test in a PID namespace of its own, so one pid names many daemons at
// once and a live daemon of another namespace looks dead; and cgroup v2
// lists a process outside the reader's namespace as pid 0, which kill(2)
// takes as "my process group".
//
// The owner name is "<pid namespace inode>-<pid>": unique on the host while
// the daemon lives. The proof of life is an flock(2) the daemon holds on
// <lockDir>/<owner> for its whole life; the kernel drops it when the process
// dies, however it dies. So an owner is gone when its lock file exists and
// can be locked. Without a lock file (a different /tmp, or a daemon that
// could not create it) an owner is gone only when it is in our own PID
// namespace and kill(pid, 0) says ESRCH; an owner of another namespace
// without a lock file is never taken for dead.
//
// Not thread-safe beyond what the kernel gives; a daemon calls these from its
// main thread.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace hcsshim::hcs_fake {

inline constexpr char kOwnerLockDir[] = "/tmp/hcs-fake-owners";

// ownerNameOf: the owner name of process `pid` of our own PID namespace (a
// test naming the daemon it started, alive or not), or "" when /proc does not
// show our namespace.
std::string ownerNameOf(int pid);

// isOwnerName: "<digits>-<digits>", each at most 20 digits.
bool isOwnerName(std::string_view name);

// OwnerLock: this process's owner name and its proof of life, held until the
// object is destroyed (which removes the file). When the lock directory or
// file cannot be made, held() is false and error() says why; the name is
// still this process's.
class OwnerLock {
 public:
  explicit OwnerLock(std::string lockDir = kOwnerLockDir);
  ~OwnerLock();
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;

  const std::string& name() const { return name_; }
  bool held() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_, name_, error_;
  int fd_ = -1;
};

// ownerGone: whether the daemon named `owner` is provably gone (see above).
// False for a name that is not an owner name.
bool ownerGone(const std::string& owner, const std::string& lockDir = kOwnerLockDir);

// forgetGoneOwners: removes the lock files of gone owners not in `stillOwning`
// (owners whose resources could not all be removed keep theirs, so that a
// daemon with more rights can prove them dead later). Returns how many.
int forgetGoneOwners(const std::set<std::string>& stillOwning, const std::string& lockDir = kOwnerLockDir);

// removeDeadDaemonDirs: removes the directories <parent>/<prefix><owner> of
// gone owners; returns the owners whose directory could not be removed.
std::set<std::string> removeDeadDaemonDirs(const std::string& parent, const std::string& prefix,
                                           const std::string& lockDir = kOwnerLockDir);

}  // namespace hcsshim::hcs_fake
