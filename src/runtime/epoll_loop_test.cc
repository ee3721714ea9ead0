#include "src/runtime/epoll_loop.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace hcsshim::runtime {
namespace {

using namespace std::chrono_literals;

class EpollLoopTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_ = std::move(*EpollEventLoop::create()); }
  std::unique_ptr<EpollEventLoop> loop_;
};

TEST_F(EpollLoopTest, PostsRunInOrder) {
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) loop_->post([&order, i] { order.push_back(i); });
  loop_->runUntil([&] { return order.size() == 5; });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(EpollLoopTest, TimersFireByDeadlineAndCancelWorks) {
  std::vector<int> order;
  loop_->addTimer(3ms, [&] { order.push_back(3); });
  TimerId cancelled = loop_->addTimer(2ms, [&] { order.push_back(2); });
  loop_->addTimer(1ms, [&] { order.push_back(1); });
  loop_->cancelTimer(cancelled);
  loop_->cancelTimer(cancelled);  // no-op
  loop_->runUntil([&] { return order.size() == 2; });
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_EQ(loop_->pendingTimers(), 0u);
}

TEST_F(EpollLoopTest, TimerDoesNotFireEarly) {
  TimePoint start = loop_->now();
  TimePoint fired{};
  loop_->addTimer(5ms, [&] { fired = loop_->now(); });
  loop_->runUntil([&] { return fired.count() != 0; });
  EXPECT_GE(fired - start, 5ms);
}

TEST_F(EpollLoopTest, PostFromAnotherThreadWakesABlockedLoop) {
  std::atomic<bool> ran{false};
  std::thread t([&] { loop_->post([&] { ran = true; }); });
  loop_->runUntil([&] { return ran.load(); });
  t.join();
  EXPECT_TRUE(ran);
}

TEST_F(EpollLoopTest, StopFromAnotherThreadEndsRunUntil) {
  std::thread t([&] { loop_->stop(); });
  EXPECT_FALSE(loop_->runUntil([] { return false; }));
  t.join();
}

TEST_F(EpollLoopTest, FdReadinessWakesAWaiter) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  auto watch = loop_->watchFd(fds[0]);
  ASSERT_TRUE(watch.ok());
  bool woke = false;
  spawn([](std::shared_ptr<FdWatch> w, bool& flag) -> Task<void> {
    co_await w->readable();
    flag = true;
  }(*watch, woke));
  EXPECT_FALSE(woke);
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  loop_->runUntil([&] { return woke; });
  EXPECT_TRUE(woke);
  loop_->unwatch(*watch);
  EXPECT_EQ(loop_->watchCount(), 0u);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(EpollLoopTest, UnwatchWakesWaitersWhoSeeClosed) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  auto watch = *loop_->watchFd(fds[0]);
  bool sawClosed = false;
  spawn([](std::shared_ptr<FdWatch> w, bool& flag) -> Task<void> {
    co_await w->readable();
    flag = w->closed();
  }(watch, sawClosed));
  loop_->unwatch(watch);
  watch.reset();  // the waiter keeps its own reference
  loop_->runUntil([&] { return sawClosed; });
  EXPECT_TRUE(sawClosed);
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace hcsshim::runtime
