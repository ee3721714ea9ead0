#include "src/runtime/epoll_loop.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "src/common/log.h"

namespace hcsshim::runtime {

TimePoint RealClock::now() const {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

int64_t RealClock::wallNanos() const {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

StatusOr<std::unique_ptr<EpollEventLoop>> EpollEventLoop::create() {
  // Writes to a closed pipe or socket must fail with EPIPE, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return errnoStatus(errno, "epoll_create1");
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) {
    int err = errno;
    ::close(epfd);
    return errnoStatus(err, "eventfd");
  }
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // token 0 = the wake-up eventfd
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) < 0) {
    int err = errno;
    ::close(efd);
    ::close(epfd);
    return errnoStatus(err, "epoll_ctl");
  }
  return std::unique_ptr<EpollEventLoop>(new EpollEventLoop(epfd, efd));
}

EpollEventLoop::EpollEventLoop(int epfd, int efd)
    : epfd_(epfd), eventfd_(efd), loopThread_(std::this_thread::get_id()) {}

EpollEventLoop::~EpollEventLoop() {
  // Callbacks may own what waits on them (a dropped Process's state is kept
  // by its pidfd callback until the exit): release them with the loop.
  for (auto& [token, w] : watches_) {
    w->closed_ = true;
    w->onEvent_ = nullptr;
  }
  ::close(eventfd_);
  ::close(epfd_);
}

void EpollEventLoop::post(std::function<void()> fn) {
  if (onLoopThread()) {
    local_.push_back(std::move(fn));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    remote_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)!::write(eventfd_, &one, sizeof one);
}

void EpollEventLoop::stop() {
  if (onLoopThread()) {
    stopRequested_ = true;
    return;
  }
  remoteStop_.store(true);
  uint64_t one = 1;
  (void)!::write(eventfd_, &one, sizeof one);
}

TimerId EpollEventLoop::addTimer(Duration after, std::function<void()> fn) {
  TimerId id = nextTimer_++;
  TimePoint deadline = clock_.now() + (after.count() > 0 ? after : Duration(0));
  timers_.emplace(std::make_pair(deadline, id), std::move(fn));
  timerDeadlines_.emplace(id, deadline);
  return id;
}

void EpollEventLoop::cancelTimer(TimerId id) {
  auto it = timerDeadlines_.find(id);
  if (it == timerDeadlines_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timerDeadlines_.erase(it);
}

StatusOr<std::shared_ptr<FdWatch>> EpollEventLoop::watchFd(int fd) {
  auto w = std::make_shared<FdWatch>();
  w->fd_ = fd;
  w->token_ = nextToken_++;
  struct epoll_event ev {};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = w->token_;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) return errnoStatus(errno, "epoll_ctl(ADD)", std::to_string(fd));
  watches_.emplace(w->token_, w);
  return w;
}

void EpollEventLoop::unwatch(const std::shared_ptr<FdWatch>& w) {
  if (!w || w->closed_) return;
  w->closed_ = true;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, w->fd_, nullptr);
  watches_.erase(w->token_);
  // Wake waiters from the loop, not from inside the caller's close().
  post([w] {
    w->readers_.notifyAll();
    w->writers_.notifyAll();
  });
}

void EpollEventLoop::runTimers(bool& predMet, const std::function<bool()>& pred) {
  TimePoint now = clock_.now();
  while (!timers_.empty() && !predMet && !stopRequested_) {
    auto it = timers_.begin();
    if (it->first.first > now) break;
    auto fn = std::move(it->second);
    timerDeadlines_.erase(it->first.second);
    timers_.erase(it);
    fn();
    predMet = pred();
  }
}

bool EpollEventLoop::runUntil(const std::function<bool()>& pred) {
  loopThread_ = std::this_thread::get_id();
  stopRequested_ = false;
  bool predMet = pred();
  constexpr int kMaxEvents = 64;
  struct epoll_event events[kMaxEvents];
  while (!predMet && !stopRequested_) {
    if (remoteStop_.exchange(false)) break;
    // 1. Callbacks posted so far (not those they post: those run next round).
    {
      std::deque<std::function<void()>> batch;
      batch.swap(local_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        while (!remote_.empty()) {
          batch.push_back(std::move(remote_.front()));
          remote_.pop_front();
        }
      }
      while (!batch.empty() && !predMet && !stopRequested_) {
        auto fn = std::move(batch.front());
        batch.pop_front();
        fn();
        predMet = pred();
      }
      // Anything not run (pred met or stop) goes back to the front, in order.
      while (!batch.empty()) {
        local_.push_front(std::move(batch.back()));
        batch.pop_back();
      }
      if (predMet || stopRequested_) break;
    }
    // 2. Due timers.
    runTimers(predMet, pred);
    if (predMet || stopRequested_) break;
    // 3. Wait for I/O until the next timer (or not at all if work is queued).
    struct timespec timeout {};
    struct timespec* tp = &timeout;
    bool haveRemote;
    {
      std::lock_guard<std::mutex> lock(mu_);
      haveRemote = !remote_.empty();
    }
    if (local_.empty() && !haveRemote) {
      if (timers_.empty()) {
        tp = nullptr;  // block until I/O or a post from another thread
      } else {
        auto wait = timers_.begin()->first.first - clock_.now();
        if (wait.count() > 0) {
          timeout.tv_sec = wait.count() / 1000000000;
          timeout.tv_nsec = wait.count() % 1000000000;
        }
      }
    }
    int n = epoll_pwait2(epfd_, events, kMaxEvents, tp, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      HLOG(Error, "eventloop.epoll_failed").kv("err", errnoStatus(errno, "epoll_pwait2"));
      return false;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == 0) {
        uint64_t v;
        (void)!::read(eventfd_, &v, sizeof v);
        continue;
      }
      auto it = watches_.find(token);
      if (it == watches_.end()) continue;  // unwatched earlier in this batch
      std::shared_ptr<FdWatch> w = it->second;
      uint32_t e = events[i].events;
      if (e & (EPOLLHUP | EPOLLERR)) w->hangup_ = true;
      if (w->onEvent_) {
        auto fn = w->onEvent_;  // the callback may clear itself
        fn(e);
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        w->readReady_ = true;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) w->inputClosed_ = true;
        w->readers_.notifyAll();
      }
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) w->writers_.notifyAll();
    }
    predMet = pred();
  }
  return predMet;
}

}  // namespace hcsshim::runtime
