// signals.h: termination signals for daemons, read through a signalfd in the
// event loop (no async signal handlers).
//
//   TerminationSignals sigs;                 // blocks SIGTERM/SIGINT now
//   int sig = blockOn(loop, sigs.wait(loop));
#pragma once

#include "src/runtime/epoll_loop.h"

namespace hcsshim::runtime {

class TerminationSignals {
 public:
  // Blocks SIGTERM and SIGINT for the calling thread (call before starting threads).
  TerminationSignals();
  ~TerminationSignals();
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;
  // wait completes with the first SIGTERM/SIGINT that arrives (0 if it
  // cannot watch, or after cancel()).
  Task<int> wait(EpollEventLoop& loop);
  // cancel ends a pending wait (with 0): the daemon is exiting for another reason.
  void cancel();

 private:
  int fd_ = -1;
  EpollEventLoop* loop_ = nullptr;
  std::shared_ptr<FdWatch> watch_;
};

}  // namespace hcsshim::runtime
