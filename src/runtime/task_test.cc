#include "src/runtime/task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "src/runtime/epoll_loop.h"

namespace hcsshim::runtime {
namespace {

Task<int> constant(int v) { co_return v; }

Task<int> addChain(int depth) {
  if (depth == 0) co_return 0;
  int below = co_await addChain(depth - 1);
  co_return below + 1;
}

Task<std::string> throws() {
  throw std::runtime_error("boom");
  co_return "unreachable";
}

class TaskTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_ = std::move(*EpollEventLoop::create()); }
  std::unique_ptr<EpollEventLoop> loop_;
};

TEST_F(TaskTest, LazyUntilAwaited) {
  bool started = false;
  // Coroutine lambdas take state as parameters: captures would dangle once
  // the lambda temporary is gone and the lazy task starts later.
  auto t = [](bool& s) -> Task<void> {
    s = true;
    co_return;
  }(started);
  EXPECT_FALSE(started);
  blockOn(*loop_, std::move(t));
  EXPECT_TRUE(started);
}

TEST_F(TaskTest, ReturnsValuesThroughNestedAwaits) {
  EXPECT_EQ(blockOn(*loop_, constant(7)), 7);
  EXPECT_EQ(blockOn(*loop_, addChain(1000)), 1000);
}

Task<int> syncLoop(int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await constant(1);
  co_return sum;
}

TEST_F(TaskTest, SynchronousCompletionsInALoopDoNotGrowTheStack) {
  // A reader loop whose awaits complete without suspending (data already
  // buffered) must run in constant stack: symmetric transfer at work.
  EXPECT_EQ(blockOn(*loop_, syncLoop(2000000)), 2000000);
}

TEST_F(TaskTest, ExceptionsPropagateToTheAwaiter) {
  auto outer = []() -> Task<std::string> {
    try {
      co_return co_await throws();
    } catch (const std::runtime_error& e) {
      co_return std::string("caught ") + e.what();
    }
  };
  EXPECT_EQ(blockOn(*loop_, outer()), "caught boom");
}

TEST_F(TaskTest, SpawnRunsToFirstSuspensionThenContinuesOnTheLoop) {
  std::vector<std::string> trace;
  Oneshot<int> gate;
  spawn([](Oneshot<int> g, std::vector<std::string>& tr) -> Task<void> {
    tr.push_back("start");
    int v = co_await g;
    tr.push_back("got " + std::to_string(v));
  }(gate, trace));
  EXPECT_EQ(trace, (std::vector<std::string>{"start"}));
  EXPECT_TRUE(gate.hasWaiter());
  loop_->post([gate]() mutable { gate.set(5); });
  loop_->runUntil([&] { return trace.size() == 2; });
  EXPECT_EQ(trace.back(), "got 5");
}

TEST_F(TaskTest, OneshotSetBeforeAwaitDoesNotSuspend) {
  Oneshot<std::string> o;
  o.set("early");
  o.set("ignored");
  auto t = [](Oneshot<std::string> o) -> Task<std::string> { co_return co_await o; }(o);
  EXPECT_EQ(blockOn(*loop_, std::move(t)), "early");
}

TEST_F(TaskTest, SleepOrdersByDeadline) {
  std::vector<int> order;
  auto sleeper = [](EventLoop& loop, int ms, std::vector<int>& out) -> Task<void> {
    co_await sleep(loop, std::chrono::milliseconds(ms));
    out.push_back(ms);
  };
  spawn(sleeper(*loop_, 30, order));
  spawn(sleeper(*loop_, 10, order));
  spawn(sleeper(*loop_, 20, order));
  loop_->runUntil([&] { return order.size() == 3; });
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST_F(TaskTest, WaitListWakesEveryoneWaitingNow) {
  WaitList wl;
  int woken = 0;
  for (int i = 0; i < 3; ++i) {
    spawn([](WaitList& w, int& n) -> Task<void> {
      co_await w.wait();
      ++n;
    }(wl, woken));
  }
  EXPECT_EQ(woken, 0);
  wl.notifyAll();
  EXPECT_EQ(woken, 3);
  EXPECT_TRUE(wl.empty());
}

}  // namespace
}  // namespace hcsshim::runtime

namespace hcsshim::runtime {
namespace {

TEST(BlockOnDeathTest, AStalledTaskAbortsWithAClearMessage) {
  EXPECT_DEATH(
      {
        auto loop = std::move(*EpollEventLoop::create());
        Oneshot<int> never;
        loop->post([&] { loop->stop(); });
        blockOn(*loop, [](Oneshot<int> o) -> Task<int> { co_return co_await o; }(never));
      },
      "ran out of work before the task finished");
}

}  // namespace
}  // namespace hcsshim::runtime
