#include "src/runtime/threaded_loop.h"

#include <thread>

namespace hcsshim::runtime {

TimePoint SteadyClock::now() const {
  return std::chrono::duration_cast<TimePoint>(std::chrono::steady_clock::now().time_since_epoch());
}

int64_t SteadyClock::wallNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ThreadedEventLoop::~ThreadedEventLoop() {
  // A thread that posted what ended the last run may still be inside
  // post(): wait until it is out before the mutex and condition go.
  while (inside_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void ThreadedEventLoop::post(std::function<void()> fn) {
  Inside in(inside_);
  std::lock_guard<std::mutex> lock(mu_);
  posted_.push_back(std::move(fn));
  wake_.notify_one();
}

TimerId ThreadedEventLoop::addTimer(Duration after, std::function<void()> fn) {
  Inside in(inside_);
  std::lock_guard<std::mutex> lock(mu_);
  TimerId id = nextTimer_++;
  TimePoint at = clock_.now() + after;
  timers_.emplace(std::make_pair(at, id), std::move(fn));
  deadlines_[id] = at;
  wake_.notify_one();
  return id;
}

void ThreadedEventLoop::cancelTimer(TimerId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return;
  timers_.erase({it->second, id});
  deadlines_.erase(it);
}

void ThreadedEventLoop::stop() {
  Inside in(inside_);
  std::lock_guard<std::mutex> lock(mu_);
  stopRequested_ = true;
  wake_.notify_one();
}

std::function<void()> ThreadedEventLoop::next(std::unique_lock<std::mutex>& lock) {
  if (!timers_.empty() && timers_.begin()->first.first <= clock_.now()) {
    auto first = timers_.begin();
    std::function<void()> fn = std::move(first->second);
    deadlines_.erase(first->first.second);
    timers_.erase(first);
    return fn;
  }
  if (!posted_.empty()) {
    std::function<void()> fn = std::move(posted_.front());
    posted_.pop_front();
    return fn;
  }
  if (stopRequested_) return {};
  auto ready = [&] { return !posted_.empty() || stopRequested_ || (!timers_.empty() && timers_.begin()->first.first <= clock_.now()); };
  if (timers_.empty()) {
    wake_.wait(lock, ready);
  } else {
    auto until = std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(timers_.begin()->first.first));
    wake_.wait_until(lock, until, ready);
  }
  return {};
}

bool ThreadedEventLoop::runUntil(const std::function<bool()>& pred) {
  if (pred()) return true;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    std::function<void()> fn = next(lock);
    if (!fn) {
      if (stopRequested_) {
        stopRequested_ = false;
        lock.unlock();
        return pred();
      }
      continue;
    }
    lock.unlock();
    fn();
    if (pred()) return true;
    lock.lock();
  }
}

}  // namespace hcsshim::runtime
