#include "hcs_fake/owner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hcs_fake/sim_backend.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::hcs_fake {
namespace {

namespace fs = std::filesystem;

std::string nsInode(const std::string& proc) {
  struct stat st;
  EXPECT_EQ(::stat((proc + "/ns/pid").c_str(), &st), 0);
  return std::to_string(st.st_ino);
}

// A pid that no process has any more (a child that exited and was reaped).
pid_t deadPid() {
  pid_t p = fork();
  if (p == 0) _exit(0);
  int status;
  waitpid(p, &status, 0);
  return p;
}

class OwnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/owner-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    locks_ = dir_ + "/locks";
  }
  void TearDown() override {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  // holdLock: a child process (in a new PID namespace when `newPidNs`) that
  // takes an OwnerLock in locks_ and keeps it; returns its owner name.
  std::string holdLock(bool newPidNs) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
      ::close(fds[0]);
      if (newPidNs) {
        if (unshare(CLONE_NEWPID) != 0) _exit(3);
        pid_t inner = fork();  // pid 1 of the new namespace, dies with this process
        if (inner == 0) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (inner != 0) {
          int st;
          waitpid(inner, &st, 0);
          _exit(0);
        }
      }
      OwnerLock lock(locks_);
      std::string line = (lock.held() ? "" : "!") + lock.name() + "\n";
      (void)!write(fds[1], line.data(), line.size());
      for (;;) pause();
    }
    ::close(fds[1]);
    children_.push_back(child);
    std::string name;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n') name += c;
    ::close(fds[0]);
    return name;
  }

  std::string dir_, locks_;
  std::vector<pid_t> children_;
};

TEST_F(OwnerTest, TheNameIsThePidNamespaceAndThePid) {
  EXPECT_EQ(ownerNameOf(getpid()), nsInode("/proc/self") + "-" + std::to_string(getpid()));
  EXPECT_EQ(ownerNameOf(0), "");
  EXPECT_EQ(ownerNameOf(-1), "");
  EXPECT_TRUE(isOwnerName("4026531836-12"));
  for (const char* bad : {"", "-", "12", "-12", "12-", "a-1", "1-a", "1-2-3", "1--2", "123456789012345678901-1"}) {
    EXPECT_FALSE(isOwnerName(bad)) << bad;
    EXPECT_FALSE(ownerGone(bad, locks_)) << bad;
  }
}

TEST_F(OwnerTest, ALiveOwnerIsNotGoneAndAKilledOneIs) {
  std::string name = holdLock(false);
  ASSERT_TRUE(isOwnerName(name)) << name;
  EXPECT_FALSE(ownerGone(name, locks_));
  EXPECT_TRUE(fs::exists(locks_ + "/" + name));
  ::kill(children_.back(), SIGKILL);
  waitpid(children_.back(), nullptr, 0);
  children_.pop_back();
  EXPECT_TRUE(fs::exists(locks_ + "/" + name)) << "kill -9 leaves the file";
  EXPECT_TRUE(ownerGone(name, locks_)) << "but not the lock";
}

TEST_F(OwnerTest, ADaemonOfAnotherPidNamespaceIsAliveThroughItsLock) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a new PID namespace";
  std::string name = holdLock(true);
  ASSERT_TRUE(isOwnerName(name)) << name;
  EXPECT_NE(name.substr(0, name.find('-')), nsInode("/proc/self"));
  EXPECT_EQ(name.substr(name.find('-') + 1), "1") << "pid 1 of its namespace";
  EXPECT_FALSE(ownerGone(name, locks_)) << "its pid means nothing here; its lock does";
  ::kill(children_.back(), SIGKILL);  // and its pid 1 with it (PR_SET_PDEATHSIG)
  waitpid(children_.back(), nullptr, 0);
  children_.pop_back();
  for (int i = 0; i < 1000 && !ownerGone(name, locks_); ++i) usleep(5000);
  EXPECT_TRUE(ownerGone(name, locks_));
}

TEST_F(OwnerTest, WithoutALockFileOnlyADeadPidOfOurNamespaceIsGone) {
  std::string ours = nsInode("/proc/self");
  EXPECT_TRUE(ownerGone(ours + "-" + std::to_string(deadPid()), locks_));
  EXPECT_FALSE(ownerGone(ours + "-" + std::to_string(getpid()), locks_)) << "ourselves";
  EXPECT_FALSE(ownerGone(ours + "-1", locks_)) << "a live pid";
  EXPECT_FALSE(ownerGone("1-" + std::to_string(deadPid()), locks_)) << "another namespace: not ours to judge";
}

TEST_F(OwnerTest, ALockFileThatIsNotARegularFileProvesNothing) {
  std::string ours = nsInode("/proc/self");
  std::string name = ours + "-" + std::to_string(deadPid());
  fs::create_directories(locks_);
  fs::create_directory_symlink("/", locks_ + "/" + name);
  EXPECT_FALSE(ownerGone(name, locks_));
  fs::remove(locks_ + "/" + name);
  fs::create_directory(locks_ + "/" + name);
  EXPECT_FALSE(ownerGone(name, locks_));
}

TEST_F(OwnerTest, GoneOwnersLoseTheirDirectoriesAndLocksLiveOnesKeepThem) {
  std::string live = holdLock(false);
  std::string dead = holdLock(false);
  ::kill(children_.back(), SIGKILL);
  waitpid(children_.back(), nullptr, 0);
  children_.pop_back();
  for (const std::string& o : {live, dead, std::string("1-1"), std::string("junk")}) {
    fs::create_directories(dir_ + "/vms/hcs-fake-qemu-" + o + "/vm1");
    std::ofstream(dir_ + "/vms/hcs-fake-qemu-" + o + "/vm1/disk") << "x";
  }
  {
    GoneOwners owners(locks_);
    auto gone = [&](const std::string& o) { return owners.gone(o); };
    EXPECT_THAT(removeDeadDaemonDirs(dir_ + "/vms", "hcs-fake-qemu-", gone), ::testing::IsEmpty());
    EXPECT_TRUE(fs::exists(dir_ + "/vms/hcs-fake-qemu-" + live));
    EXPECT_FALSE(fs::exists(dir_ + "/vms/hcs-fake-qemu-" + dead));
    EXPECT_TRUE(fs::exists(dir_ + "/vms/hcs-fake-qemu-1-1")) << "unprovable";
    EXPECT_TRUE(fs::exists(dir_ + "/vms/hcs-fake-qemu-junk"));
    EXPECT_EQ(owners.forget({dead}), 0) << "it still owns something";
    EXPECT_TRUE(fs::exists(locks_ + "/" + dead));
    EXPECT_EQ(owners.forget({}), 1);
  }
  EXPECT_FALSE(fs::exists(locks_ + "/" + dead));
  EXPECT_TRUE(fs::exists(locks_ + "/" + live));
}

// pids are reused (pid_max is often 32768): a daemon that gets a gone
// daemon's pid - so its owner name - while a sweep removes that one's
// leftovers waits for the sweep, then holds a lock file of its own.
TEST_F(OwnerTest, ADaemonReusingAGoneOnesNameWaitsForTheSweep) {
  std::string dead = holdLock(false);
  ::kill(children_.back(), SIGKILL);
  waitpid(children_.back(), nullptr, 0);
  children_.pop_back();
  auto owners = std::make_unique<GoneOwners>(locks_);
  ASSERT_TRUE(owners->gone(dead));
  std::atomic<bool> locked{false};
  std::thread newcomer([&] {
    OwnerLock lock(locks_, dead, std::chrono::seconds(20));
    EXPECT_TRUE(lock.held()) << lock.error();
    locked = true;
    EXPECT_TRUE(fs::exists(locks_ + "/" + dead)) << "its own file, made again after the sweep removed the old one";
    EXPECT_FALSE(ownerGone(dead, locks_)) << "and it is alive";
  });
  usleep(300000);
  EXPECT_FALSE(locked) << "it waits while the sweep holds the name";
  EXPECT_EQ(owners->forget({}), 1);
  owners.reset();  // the sweep ends
  newcomer.join();
  EXPECT_TRUE(locked);
}

TEST_F(OwnerTest, AnOwnerWithoutALockFileIsClaimedWhileSwept) {
  std::string name = nsInode("/proc/self") + "-" + std::to_string(deadPid());
  {
    GoneOwners owners(locks_);
    ASSERT_TRUE(owners.gone(name));
    EXPECT_TRUE(fs::exists(locks_ + "/" + name)) << "made to claim it";
    OwnerLock taker(locks_, name, std::chrono::milliseconds(50));
    EXPECT_FALSE(taker.held()) << "the name is the sweep's for now";
  }
  EXPECT_FALSE(fs::exists(locks_ + "/" + name)) << "a file made only to claim goes with the claim";
}

// The CI failure this guards: cgroup v2 lists a process outside the
// reader's PID namespace as 0, and kill(0, SIGKILL) is our process group.
TEST_F(OwnerTest, AStaleCgroupListingPidZeroKillsNobody) {
  std::string root = dir_ + "/cgroup";
  fs::create_directories(root + "/hcs-fake-9-9/vm1");
  std::ofstream(root + "/cgroup.controllers") << "memory\n";
  std::ofstream(root + "/hcs-fake-9-9/cgroup.procs") << "0\n";
  std::ofstream(root + "/hcs-fake-9-9/vm1/cgroup.procs") << "0\n" << getpid() << "\n";
  fs::create_directories(root + "/hcs-fake-7-7");  // an owner that is not gone: untouched
  auto rt = std::move(*runtime::RealRuntime::create("owner-test"));
  std::vector<std::string> asked;
  auto t = removeDeadDaemonCgroups(rt->loop(), root, [&](const std::string& o) {
    asked.push_back(o);
    return o == "9-9";
  });
  std::set<std::string> left = runtime::blockOn(rt->loop(), std::move(t));
  EXPECT_EQ(left, (std::set<std::string>{"9-9"})) << "files in it: rmdir cannot remove it";
  EXPECT_THAT(asked, ::testing::Contains("9-9"));
  EXPECT_TRUE(fs::exists(root + "/hcs-fake-7-7"));
  // Still here: neither our process group nor ourselves was signalled.
}

}  // namespace
}  // namespace hcsshim::hcs_fake
