// epoll_loop.h: the real EventLoop on Linux epoll, with nanosecond timers
// (epoll_pwait2), a thread-safe post() (eventfd wake-up) and fd readiness.
//
// Only the real seam implementations (unix transport, process runner,
// platforms/) use fd readiness; components use Stream and Process.
//
//   auto loop = EpollEventLoop::create();
//   auto watch = (*loop)->watchFd(fd);
//   co_await (*watch)->readable();   // next readiness edge (or close)
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "src/common/status.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::runtime {

class EpollEventLoop;

// FdWatch: an fd registered edge-triggered for input and output readiness.
// readable()/writable() suspend until the next edge (or until the watch is
// closed); callers retry their syscall after each wake-up. Held by shared_ptr
// so a coroutine suspended on it survives the owner's destruction.
class FdWatch {
 public:
  int fd() const { return fd_; }
  bool closed() const { return closed_; }
  // hangup is set once the fd reported EPOLLHUP/EPOLLERR.
  bool hangup() const { return hangup_; }

  auto readable() { return readers_.wait(); }

  // readReady is set by every input-readiness edge; a reader clears it when a
  // read comes back short (the buffer was drained), and may then wait for the
  // next edge instead of paying for a read that would fail with EAGAIN.
  // Once the peer has closed its side (RDHUP/HUP/ERR), reads never wait: the
  // EOF or error is reported by the read itself and no further edge comes.
  bool readReady() const { return readReady_ || inputClosed_; }
  void clearReadReady() { readReady_ = false; }
  auto writable() { return writers_.wait(); }

  // onEvent sets a callback run on every readiness event (e.g. pidfd exit).
  void setOnEvent(std::function<void(uint32_t events)> fn) { onEvent_ = std::move(fn); }

 private:
  friend class EpollEventLoop;
  int fd_ = -1;
  uint64_t token_ = 0;
  bool closed_ = false;
  bool hangup_ = false;
  bool readReady_ = true;
  bool inputClosed_ = false;
  WaitList readers_;
  WaitList writers_;
  std::function<void(uint32_t)> onEvent_;
};

class RealClock final : public Clock {
 public:
  TimePoint now() const override;
  int64_t wallNanos() const override;
};

class EpollEventLoop final : public EventLoop {
 public:
  static StatusOr<std::unique_ptr<EpollEventLoop>> create();
  ~EpollEventLoop() override;

  const Clock& clock() const override { return clock_; }
  void post(std::function<void()> fn) override;
  TimerId addTimer(Duration after, std::function<void()> fn) override;
  void cancelTimer(TimerId id) override;
  bool runUntil(const std::function<bool()>& pred) override;
  void stop() override;

  // watchFd registers fd (which must be non-blocking). The watch does not own fd.
  StatusOr<std::shared_ptr<FdWatch>> watchFd(int fd);
  // unwatch deregisters and wakes every waiter (they see closed()). Call it
  // before closing the fd.
  void unwatch(const std::shared_ptr<FdWatch>& watch);

  // pendingWork counts posted callbacks, timers and watches (for tests: a loop
  // with no work left has leaked nothing).
  size_t pendingTimers() const { return timers_.size(); }
  size_t watchCount() const { return watches_.size(); }

 private:
  EpollEventLoop(int epfd, int eventfd);
  bool onLoopThread() const { return std::this_thread::get_id() == loopThread_; }
  void runTimers(bool& predMet, const std::function<bool()>& pred);

  RealClock clock_;
  int epfd_;
  int eventfd_;
  std::thread::id loopThread_;
  bool stopRequested_ = false;
  std::atomic<bool> remoteStop_{false};

  std::deque<std::function<void()>> local_;  // posted from the loop thread
  std::mutex mu_;
  std::deque<std::function<void()>> remote_;  // posted from other threads

  TimerId nextTimer_ = 1;
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> timers_;
  std::unordered_map<TimerId, TimePoint> timerDeadlines_;

  uint64_t nextToken_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<FdWatch>> watches_;
};

}  // namespace hcsshim::runtime
