// posix_process.h: the real ProcessRunner (fork/exec; exit seen through a
// pidfd in the event loop, so no SIGCHLD handler and no blocking waitpid).
#pragma once

#include <set>

#include "src/runtime/epoll_loop.h"
#include "src/runtime/process.h"

namespace hcsshim::runtime {

struct PosixProcessState;

class PosixProcessRunner final : public ProcessRunner {
 public:
  explicit PosixProcessRunner(EpollEventLoop& loop) : loop_(loop), tracked_(std::make_shared<std::set<pid_t>>()) {}
  StatusOr<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) override;
  StatusOr<std::unique_ptr<Process>> adopt(int pid) override;

  // reapOrphans reaps zombie children nobody tracks (orphans reparented to
  // a subreaper or to PID 1). A zombie is reaped the second time a call sees
  // it untracked, so a just-reparented process can still be adopted in
  // between. Call it periodically. Returns how many were reaped.
  size_t reapOrphans();

 private:
  StatusOr<std::shared_ptr<PosixProcessState>> track(int pid, bool isolated);
  EpollEventLoop& loop_;
  std::shared_ptr<std::set<pid_t>> tracked_;
  std::set<pid_t> orphanCandidates_;
};

// becomeChildSubreaper: orphaned descendants (a container init once runc
// exits) are reparented to this process instead of to PID 1.
Status becomeChildSubreaper();

}  // namespace hcsshim::runtime
