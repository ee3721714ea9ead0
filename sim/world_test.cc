#include "sim/world.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/node.h"
#include "src/runtime/wait_for.h"

namespace hcsshim::sim {
namespace {

using namespace std::chrono_literals;
using runtime::Task;

TEST(WorldTest, VirtualTimeJumpsToTheNextEvent) {
  World w(1);
  Node& n = w.addNode("n");
  std::vector<std::pair<int, int64_t>> fired;
  n.loop().addTimer(10s, [&] { fired.push_back({10, w.now().count()}); });
  n.loop().addTimer(1h, [&] { fired.push_back({3600, w.now().count()}); });
  n.loop().post([&] { fired.push_back({0, w.now().count()}); });
  w.runUntil([&] { return fired.size() == 3; });
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], std::make_pair(0, int64_t{0}));
  EXPECT_EQ(fired[1], std::make_pair(10, int64_t{10'000'000'000}));
  EXPECT_EQ(fired[2], std::make_pair(3600, int64_t{3'600'000'000'000}));
  EXPECT_LT(w.eventsRun(), 10u);
}

// waitFor on virtual time: true as soon as the condition holds (checked on
// its interval), false exactly at the deadline - an hour costs nothing.
TEST(WorldTest, WaitForMeetsTheConditionOrTheDeadline) {
  World w(1);
  Node& n = w.addNode("n");
  bool flag = false;
  n.loop().addTimer(250ms, [&] { flag = true; });
  std::optional<bool> met, missed;
  TimePoint metAt{}, missedAt{};
  runtime::spawn([](runtime::EventLoop& loop, bool& flag, std::optional<bool>& met, TimePoint& at) -> Task<void> {
    met = co_await runtime::waitFor(loop, [&] { return flag; }, 10s, 100ms);
    at = loop.now();
  }(n.loop(), flag, met, metAt));
  runtime::spawn([](runtime::EventLoop& loop, std::optional<bool>& missed, TimePoint& at) -> Task<void> {
    missed = co_await runtime::waitFor(loop, [] { return false; }, 1h, 7min);
    at = loop.now();
  }(n.loop(), missed, missedAt));
  w.runUntil([&] { return met && missed; });
  ASSERT_TRUE(met && missed);
  EXPECT_TRUE(*met);
  EXPECT_EQ(metAt, TimePoint(300ms)) << "the first check after the flag was set";
  EXPECT_FALSE(*missed);
  EXPECT_EQ(missedAt, TimePoint(1h));
}

TEST(WorldTest, CancelledTimersDoNotFire) {
  World w(1);
  Node& n = w.addNode("n");
  bool fired = false;
  auto id = n.loop().addTimer(1s, [&] { fired = true; });
  n.loop().cancelTimer(id);
  w.runUntil([] { return false; });
  EXPECT_FALSE(fired);
  EXPECT_EQ(w.pendingEvents(), 0u);
}

TEST(WorldTest, SameTimeEventsRunInScheduleOrder) {
  World w(1);
  Node& n = w.addNode("n");
  std::string order;
  for (char c : std::string("abcde")) n.loop().addTimer(1ms, [&order, c] { order.push_back(c); });
  w.runUntil([&] { return order.size() == 5; });
  EXPECT_EQ(order, "abcde");
}

TEST(WorldTest, CoroutineSleepOnVirtualTimeAndWallClock) {
  World w(1);
  Node& n = w.addNode("n");
  int64_t wallBefore = n.loop().clock().wallNanos();
  bool done = false;
  runtime::spawn([](Node& n, bool& d) -> Task<void> {
    co_await runtime::sleep(n.loop(), 24h);
    d = true;
  }(n, done));
  w.runUntil([&] { return done; });
  EXPECT_EQ(w.now(), std::chrono::nanoseconds(24h));
  EXPECT_EQ(n.loop().clock().wallNanos() - wallBefore, std::chrono::nanoseconds(24h).count());
}

TEST(WorldTest, NodesGetDistinctPidsAndNames) {
  World w(1);
  Node& a = w.addNode("x");
  Node& b = w.addNode("x");
  EXPECT_NE(a.credentials().pid, b.credentials().pid);
  EXPECT_NE(a.name(), b.name());
  Node& c = w.addNode("c", runtime::PeerCredentials{7, 1000, 1000});
  EXPECT_EQ(c.credentials().uid, 1000u);
}

TEST(WorldTest, EventBudgetStopsALivelock) {
  WorldOptions opts;
  opts.maxEvents = 1000;
  World w(1, opts);
  Node& n = w.addNode("n");
  std::function<void()> spin = [&] { n.loop().post(spin); };
  n.loop().post(spin);
  EXPECT_FALSE(w.runUntil([] { return false; }));
  EXPECT_THAT(w.traceLines().back(), ::testing::HasSubstr("event budget exhausted"));
}

TEST(WorldTest, ATraceAliasHidesWhereTheRunRan) {
  World a(1), b(1);
  a.setTraceAlias("/tmp/run-a", "$DIR");
  b.setTraceAlias("/dev/shm/b", "$DIR");
  a.trace("n", "connect /tmp/run-a/v0_1 and /tmp/run-a/v0_2 /tmp/run-");
  b.trace("n", "connect /dev/shm/b/v0_1 and /dev/shm/b/v0_2 /tmp/run-");
  EXPECT_EQ(a.traceText(), b.traceText());
  EXPECT_NE(a.traceText().find("connect $DIR/v0_1 and $DIR/v0_2 /tmp/run-"), std::string::npos) << a.traceText();
}

TEST(WorldTest, SeedFromEnvFallsBack) {
  unsetenv("HCS_SIM_SEED");
  EXPECT_EQ(seedFromEnv(5), 5u);
  setenv("HCS_SIM_SEED", "77", 1);
  EXPECT_EQ(seedFromEnv(5), 77u);
  setenv("HCS_SIM_SEED", "junk", 1);
  EXPECT_EQ(seedFromEnv(5), 5u);
  unsetenv("HCS_SIM_SEED");
}

}  // namespace
}  // namespace hcsshim::sim
