// posix_process.h: the real ProcessRunner (fork/exec; exit seen through a
// pidfd in the event loop, so no SIGCHLD handler and no blocking waitpid).
#pragma once

#include "src/runtime/epoll_loop.h"
#include "src/runtime/process.h"

namespace hcsshim::runtime {

class PosixProcessRunner final : public ProcessRunner {
 public:
  explicit PosixProcessRunner(EpollEventLoop& loop) : loop_(loop) {}
  StatusOr<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) override;

 private:
  EpollEventLoop& loop_;
};

}  // namespace hcsshim::runtime
