// freezer.h: stopping every process of a compute system - a Container
// system's processes and all their descendants, a sim VM's guest - and
// proving it: HCS Pause must freeze what runs, not just flip a state.
//
//   CgroupFreezer f(loop, "/sys/fs/cgroup", "/hcs-fake-1234");
//   auto dirs = f.create("c1");           // processes join: ProcessSpec.cgroups = *dirs
//   HCS_CO_RETURN_IF_ERROR(co_await f.freeze("c1"));   // written and read back FROZEN
//   HCS_CO_RETURN_IF_ERROR(co_await f.thaw("c1"));
//
// Errors are precise: a freezer file that cannot be written names the file
// and errno; a state that does not read back in time says what it read.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::hcs_fake {

class Freezer {
 public:
  virtual ~Freezer() = default;
  // create: the group of system id; returns the cgroup directories its
  // processes join (ProcessSpec.cgroups).
  virtual StatusOr<std::vector<std::string>> create(const std::string& id) = 0;
  virtual runtime::Task<Status> freeze(const std::string& id) = 0;
  virtual runtime::Task<Status> thaw(const std::string& id) = 0;
  // thawNow: thaw without waiting (before killing: a process frozen by the
  // v1 freezer does not die until thawed).
  virtual void thawNow(const std::string& id) = 0;
  // destroy removes the group (at once if its processes are gone, else on
  // a later call or when the freezer goes: nothing waits in the background).
  virtual void destroy(const std::string& id) = 0;
};

// freezeCgroup: write the freezer state of cgroup directory `dir` (v2:
// cgroup.freeze; v1: freezer.state in the freezer hierarchy) and wait, up to
// `deadline`, until it reads back frozen (or thawed).
runtime::Task<Status> freezeCgroup(runtime::EventLoop& loop, std::string dir, bool v2, bool frozen,
                                   runtime::Duration deadline = std::chrono::seconds(5));
// writeFreezerState: the write alone (errors name the file).
Status writeFreezerState(const std::string& dir, bool v2, bool frozen);

// isCgroupV2: root is a unified (v2) cgroup mount.
bool isCgroupV2(const std::string& root);

class CgroupFreezer final : public Freezer {
 public:
  // root: the cgroup mount; parent: the fake's own cgroup (/hcs-fake-<pid>).
  CgroupFreezer(runtime::EventLoop& loop, std::string root, std::string parent);
  // The parent group goes too, once empty.
  ~CgroupFreezer() override;
  StatusOr<std::vector<std::string>> create(const std::string& id) override;
  runtime::Task<Status> freeze(const std::string& id) override;
  runtime::Task<Status> thaw(const std::string& id) override;
  void thawNow(const std::string& id) override;
  void destroy(const std::string& id) override;

 private:
  std::string dirFor(const std::string& id) const;
  void retryPending();
  std::set<std::string> pending_;  // groups whose last processes were still leaving
  runtime::EventLoop& loop_;
  std::string root_, parent_;
  bool v2_;
};

}  // namespace hcsshim::hcs_fake
