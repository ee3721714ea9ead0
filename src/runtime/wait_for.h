// wait_for.h: waiting for a condition with a deadline - the one helper the
// tree uses wherever a result depends on something becoming true (a file
// appearing, a process exiting, a counter advancing), instead of fixed
// sleeps that guess how long it takes.
//
//   bool up = co_await waitFor(loop, [&] { return fs::exists(pidFile); }, 10s);
//   if (!up) co_return DeadlineExceededError("no pid file after 10 s");
//
// In tests (synchronous code): EXPECT_TRUE(blockOn(loop, waitFor(loop, pred, 5s)));
// Time is the loop's (virtual under the simulator), so a deadline costs a
// simulated run nothing.
#pragma once

#include <functional>

#include "src/runtime/event_loop.h"

namespace hcsshim::runtime {

// waitFor checks `done` now and then every `interval` until it returns true
// (-> true) or `deadline` has passed (-> false, after one last check).
inline Task<bool> waitFor(EventLoop& loop, std::function<bool()> done, Duration deadline,
                          Duration interval = std::chrono::milliseconds(10)) {
  TimePoint end = loop.now() + deadline;
  for (;;) {
    if (done()) co_return true;
    if (loop.now() >= end) co_return false;
    Duration left = end - loop.now();
    co_await sleep(loop, left < interval ? left : interval);
  }
}

// waitForAsync: the same, for a condition that must itself wait (a
// connection attempt, a query to a daemon).
inline Task<bool> waitForAsync(EventLoop& loop, std::function<Task<bool>()> done, Duration deadline,
                               Duration interval = std::chrono::milliseconds(10)) {
  TimePoint end = loop.now() + deadline;
  for (;;) {
    if (co_await done()) co_return true;
    if (loop.now() >= end) co_return false;
    Duration left = end - loop.now();
    co_await sleep(loop, left < interval ? left : interval);
  }
}

// waitForBlocking: the same for synchronous code (tests, main()) whose
// condition itself blocks on the loop: checks `done`, runs the loop for
// `interval` between checks. Never call it from inside a coroutine.
inline bool waitForBlocking(EventLoop& loop, const std::function<bool()>& done, Duration deadline,
                            Duration interval = std::chrono::milliseconds(10)) {
  TimePoint end = loop.now() + deadline;
  for (;;) {
    if (done()) return true;
    if (loop.now() >= end) return false;
    Duration left = end - loop.now();
    blockOn(loop, [](EventLoop& l, Duration d) -> Task<void> { co_await sleep(l, d); }(loop, left < interval ? left : interval));
  }
}

}  // namespace hcsshim::runtime
