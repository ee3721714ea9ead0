#include "src/runtime/threaded_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace hcsshim::runtime {
namespace {

using namespace std::chrono_literals;

TEST(ThreadedEventLoopTest, PostsFromOtherThreadsWakeTheLoopInOrder) {
  ThreadedEventLoop loop;
  std::vector<int> seen;
  std::thread poster([&] {
    std::this_thread::sleep_for(20ms);  // the loop is asleep by now
    for (int i = 0; i < 100; ++i) loop.post([&seen, i] { seen.push_back(i); });
  });
  EXPECT_TRUE(loop.runUntil([&] { return seen.size() == 100; }));
  poster.join();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
}

// A loop destroyed as soon as the post that ended its run was seen: the
// posting thread may still be inside post() (it was: a use after free that
// corrupted the heap of the Windows suite under Wine). ASan reports it if it
// comes back; here the run must simply survive.
TEST(ThreadedEventLoopTest, ALoopCanGoRightAfterThePostThatEndedItsRun) {
  for (int i = 0; i < 2000; ++i) {
    auto loop = std::make_unique<ThreadedEventLoop>();
    bool done = false;
    std::thread poster([&] { loop->post([&] { done = true; }); });
    poster.detach();  // as platforms/windows' blocking calls do
    ASSERT_TRUE(loop->runUntil([&] { return done; }));
    loop.reset();
  }
}

TEST(ThreadedEventLoopTest, TimersFireByDeadlineAndNotBeforeIt) {
  ThreadedEventLoop loop;
  std::vector<int> order;
  TimePoint start = loop.now();
  TimePoint firedAt{};
  loop.addTimer(30ms, [&] {
    order.push_back(30);
    firedAt = loop.now();
  });
  loop.addTimer(10ms, [&] { order.push_back(10); });
  TimerId cancelled = loop.addTimer(20ms, [&] { order.push_back(20); });
  loop.cancelTimer(cancelled);
  loop.cancelTimer(cancelled);  // twice: a no-op
  EXPECT_TRUE(loop.runUntil([&] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{10, 30}));
  EXPECT_GE(firedAt - start, Duration(30ms));
}

TEST(ThreadedEventLoopTest, StopFromAnotherThreadEndsRunUntil) {
  ThreadedEventLoop loop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(10ms);
    loop.stop();
  });
  EXPECT_FALSE(loop.runUntil([] { return false; }));
  stopper.join();
  // The stop was consumed: the next runUntil runs again.
  bool ran = false;
  loop.post([&] { ran = true; });
  EXPECT_TRUE(loop.runUntil([&] { return ran; }));
}

TEST(ThreadedEventLoopTest, CoroutinesSleepOnIt) {
  ThreadedEventLoop loop;
  bool done = false;
  spawn([](EventLoop& l, bool& d) -> Task<void> {
    co_await sleep(l, 5ms);
    co_await yield(l);
    d = true;
  }(loop, done));
  EXPECT_TRUE(loop.runUntil([&] { return done; }));
}

}  // namespace
}  // namespace hcsshim::runtime
