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
// can be locked - and the sweep keeps it locked while it removes the
// owner's resources (GoneOwners). Without a lock file (a different /tmp, or a daemon that
// could not create it) an owner is gone only when it is in our own PID
// namespace and kill(pid, 0) says ESRCH; an owner of another namespace
// without a lock file is never taken for dead.
//
// Not thread-safe beyond what the kernel gives; a daemon calls these from its
// main thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
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
// object is destroyed (which removes the file). If a sweep holds the name's
// lock (a gone daemon that had this pid - pids are reused, pid_max is often
// 32768), it waits for the sweep, up to `wait`. When the lock directory or
// file cannot be made, held() is false and error() says why; the name is
// still this process's.
class OwnerLock {
 public:
  explicit OwnerLock(std::string lockDir = kOwnerLockDir, std::string name = "",
                     std::chrono::milliseconds wait = std::chrono::seconds(30));
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

// GoneOwners: a sweep's view of which owners are provably gone (see above).
// Each one found gone is claimed - its lock file held by this object until
// it goes - so that a new daemon reusing a gone one's pid waits for the sweep
// instead of having its fresh resources removed. Not for concurrent use.
class GoneOwners {
 public:
  explicit GoneOwners(std::string lockDir = kOwnerLockDir) : dir_(std::move(lockDir)) {}
  ~GoneOwners();
  GoneOwners(const GoneOwners&) = delete;
  GoneOwners& operator=(const GoneOwners&) = delete;

  // gone: whether `owner` is provably gone (claiming it). False for a name
  // that is not an owner name.
  bool gone(const std::string& owner);
  // forget: removes the lock files of the claimed owners not in
  // `stillOwning` (owners whose resources could not all be removed keep
  // theirs, so that a daemon with more rights can prove them dead later).
  // Returns how many.
  int forget(const std::set<std::string>& stillOwning);

 private:
  struct Claim {
    int fd;
    bool made;  // the file was made to claim it (no lock file before)
  };
  std::string dir_;
  std::map<std::string, Claim> claimed_;
  std::set<std::string> alive_;
};

// ownerGone: one question to a GoneOwners of its own (the claim ends at once).
bool ownerGone(const std::string& owner, const std::string& lockDir = kOwnerLockDir);

// removeDeadDaemonDirs: removes the directories <parent>/<prefix><owner> of
// owners `gone` says are gone; returns the owners whose directory could not
// be removed.
std::set<std::string> removeDeadDaemonDirs(const std::string& parent, const std::string& prefix,
                                           const std::function<bool(const std::string&)>& gone);

}  // namespace hcsshim::hcs_fake
