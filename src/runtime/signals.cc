#include "src/runtime/signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace hcsshim::runtime {

TerminationSignals::TerminationSignals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  fd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

TerminationSignals::~TerminationSignals() {
  if (fd_ >= 0) ::close(fd_);
}

Task<int> TerminationSignals::wait(EpollEventLoop& loop) {
  if (fd_ < 0) co_return 0;
  auto watch = loop.watchFd(fd_);
  if (!watch.ok()) co_return 0;
  loop_ = &loop;
  watch_ = *watch;
  std::shared_ptr<FdWatch> w = *watch;
  for (;;) {
    if (w->closed()) co_return 0;
    signalfd_siginfo info;
    if (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      loop.unwatch(w);
      co_return static_cast<int>(info.ssi_signo);
    }
    co_await w->readable();
  }
}

void TerminationSignals::cancel() {
  if (loop_ && watch_) loop_->unwatch(watch_);
}

}  // namespace hcsshim::runtime
