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
  for (;;) {
    signalfd_siginfo info;
    if (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      loop.unwatch(*watch);
      co_return static_cast<int>(info.ssi_signo);
    }
    if ((*watch)->closed()) co_return 0;
    co_await (*watch)->readable();
  }
}

}  // namespace hcsshim::runtime
