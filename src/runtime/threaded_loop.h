// threaded_loop.h: the EventLoop seam on the standard library's threads
// alone - a queue other threads post to, timers, and a condition variable
// the loop sleeps on until the next timer or post. No I/O: it is the loop
// of a platform whose I/O completes on other threads and posts its results
// (platforms/windows: computecore's callbacks and operation waits, Hyper-V
// socket reads), and it runs unchanged on Linux, where its tests are.
//
//   ThreadedEventLoop loop;
//   std::thread([&] { loop.post([&] { done = true; }); }).detach();
//   loop.runUntil([&] { return done; });
//
// post, addTimer, cancelTimer and stop are thread-safe; callbacks run on the
// thread inside runUntil, in order: due timers by deadline, then posts in
// the order they came.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "src/runtime/event_loop.h"

namespace hcsshim::runtime {

// SteadyClock: monotonic time from std::chrono::steady_clock, wall time from
// the system clock.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override;
  int64_t wallNanos() const override;
};

class ThreadedEventLoop final : public EventLoop {
 public:
  ThreadedEventLoop() = default;
  // Waits for other threads still inside post/addTimer/stop (the post that
  // ended the last run returns after the loop saw it): destroying the loop
  // right after its last run is safe.
  ~ThreadedEventLoop() override;
  const Clock& clock() const override { return clock_; }
  void post(std::function<void()> fn) override;
  TimerId addTimer(Duration after, std::function<void()> fn) override;
  void cancelTimer(TimerId id) override;
  bool runUntil(const std::function<bool()>& pred) override;
  void stop() override;

 private:
  // next: the next callback due now, or an empty function after waiting
  // until one may be (a post, a timer's deadline, or stop).
  std::function<void()> next(std::unique_lock<std::mutex>& lock);

  SteadyClock clock_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> posted_;
  std::map<std::pair<TimePoint, TimerId>, std::function<void()>> timers_;
  std::map<TimerId, TimePoint> deadlines_;
  TimerId nextTimer_ = 1;
  bool stopRequested_ = false;
  // Threads inside post/addTimer/stop (the destructor waits for 0; the
  // decrement is their last touch of the loop).
  std::atomic<int> inside_{0};
  struct Inside {
    explicit Inside(std::atomic<int>& n) : n_(n) { n_.fetch_add(1, std::memory_order_acq_rel); }
    ~Inside() { n_.fetch_sub(1, std::memory_order_release); }
    std::atomic<int>& n_;
  };
};

}  // namespace hcsshim::runtime
