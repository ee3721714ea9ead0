// event_loop.h: the event loop and clock seams.
//
// Components never read the clock, sleep or arm timers themselves: they ask
// their EventLoop. The real loop (EpollEventLoop) runs on epoll with
// nanosecond timers; the simulator's loop runs on virtual time, so a test can
// advance hours in microseconds and replay a run exactly by its seed.
//
//   Task<void> heartbeat(EventLoop& loop) {
//     for (;;) { co_await sleep(loop, 1s); ... }
//   }
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>

#include "src/runtime/task.h"

namespace hcsshim::runtime {

using Duration = std::chrono::nanoseconds;
// TimePoint is monotonic time since an arbitrary origin (loop start in simulation).
using TimePoint = std::chrono::nanoseconds;

// Clock: monotonic time for timeouts and wall time for timestamps.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // wallNanos is nanoseconds since the Unix epoch (for event timestamps).
  virtual int64_t wallNanos() const = 0;
};

// TimerId identifies an armed timer; 0 is never a valid id.
using TimerId = uint64_t;

// EventLoop: a single-threaded dispatcher of callbacks, timers and I/O.
class EventLoop {
 public:
  virtual ~EventLoop() = default;

  virtual const Clock& clock() const = 0;
  TimePoint now() const { return clock().now(); }

  // post runs fn on the loop soon, after callbacks already due. Thread-safe
  // on the real loop (it is how other threads hand work to the loop).
  virtual void post(std::function<void()> fn) = 0;

  // addTimer runs fn once, `after` from now. cancelTimer on a fired or
  // cancelled id is a no-op.
  virtual TimerId addTimer(Duration after, std::function<void()> fn) = 0;
  virtual void cancelTimer(TimerId id) = 0;

  // runUntil dispatches until pred() is true (checked after every callback)
  // or stop() was called. Returns pred()'s final value.
  virtual bool runUntil(const std::function<bool()>& pred) = 0;
  // stop makes the current runUntil return (thread-safe on the real loop).
  virtual void stop() = 0;
};

// sleep suspends the calling coroutine for d of the loop's time.
inline auto sleep(EventLoop& loop, Duration d) {
  struct Awaiter {
    EventLoop& loop;
    Duration d;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { loop.addTimer(d, [h] { h.resume(); }); }
    void await_resume() const noexcept {}
  };
  return Awaiter{loop, d};
}

// withTimeout runs `op` and completes with onTimeout() if it has not finished
// after `timeout` of loop time. A timed-out op keeps running in the background
// (like a remote operation would); its result is dropped.
template <typename T, typename OnTimeout, typename OnLate>
Task<T> withTimeout(EventLoop& loop, Task<T> op, Duration timeout, OnTimeout onTimeout, OnLate onLate);

template <typename T, typename OnTimeout>
Task<T> withTimeout(EventLoop& loop, Task<T> op, Duration timeout, OnTimeout onTimeout) {
  return withTimeout(loop, std::move(op), timeout, std::move(onTimeout), [](T) {});
}

// withTimeout with onLate: a result that arrives after the timeout is handed
// to onLate(T) instead of being dropped - for an operation whose late success
// leaves something behind that only its result can release (a compute system
// created after its creator gave up).
template <typename T, typename OnTimeout, typename OnLate>
Task<T> withTimeout(EventLoop& loop, Task<T> op, Duration timeout, OnTimeout onTimeout, OnLate onLate) {
  Oneshot<T> done;
  spawn([](Task<T> op, Oneshot<T> done, OnLate onLate) -> Task<void> {
    T result = co_await std::move(op);
    if (done.isSet()) {
      onLate(std::move(result));
    } else {
      done.set(std::move(result));
    }
  }(std::move(op), done, std::move(onLate)));
  TimerId timer = 0;
  if (!done.isSet()) {
    timer = loop.addTimer(timeout, [done, onTimeout]() mutable { done.set(onTimeout()); });
  }
  T result = co_await done;
  if (timer) loop.cancelTimer(timer);
  co_return result;
}

// yield reschedules the calling coroutine behind work already queued on the loop.
inline auto yield(EventLoop& loop) {
  struct Awaiter {
    EventLoop& loop;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { loop.post([h] { h.resume(); }); }
    void await_resume() const noexcept {}
  };
  return Awaiter{loop};
}

// drain runs callbacks already queued on the loop (and those they queue, a few
// rounds deep) without waiting for I/O or future timers. For the end of main():
// lets closed streams wake and finish the coroutines that waited on them.
inline void drain(EventLoop& loop, int rounds = 4) {
  for (int i = 0; i < rounds; ++i) {
    bool reached = false;
    loop.post([&reached] { reached = true; });
    loop.runUntil([&reached] { return reached; });
  }
}

namespace detail {
// blockOnStalled reports a blockOn whose loop ran dry or was stopped before the
// task finished (a task waiting on something that can no longer happen) and
// aborts: returning would hand the caller a value that does not exist.
[[noreturn]] void blockOnStalled();
}  // namespace detail

// blockOn runs the loop until `task` finishes and returns its result. For
// main() and tests; never call it from inside a coroutine.
template <typename T>
T blockOn(EventLoop& loop, Task<T> task) {
  std::optional<T> result;
  spawn([](Task<T> t, std::optional<T>& out) -> Task<void> { out.emplace(co_await std::move(t)); }(std::move(task),
                                                                                                    result));
  if (!loop.runUntil([&] { return result.has_value(); })) detail::blockOnStalled();
  return std::move(*result);
}

inline void blockOn(EventLoop& loop, Task<void> task) {
  bool done = false;
  spawn([](Task<void> t, bool& d) -> Task<void> {
    co_await std::move(t);
    d = true;
  }(std::move(task), done));
  if (!loop.runUntil([&] { return done; })) detail::blockOnStalled();
}

}  // namespace hcsshim::runtime
