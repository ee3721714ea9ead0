// The bug zoo (src/common/bug_zoo.h): each bug this project fixed, switched
// back on, is found by the campaign - the same seeds and swarm faults CI
// runs - within a stated number of seeds, by the checker that names it.
// The numbers found are in docs/benchmarks.md.
#include <gtest/gtest.h>

#include <cstdlib>

#include "sim/campaign/campaign.h"
#include "src/common/log.h"
#include "src/common/testing/bug_zoo_switch.h"

namespace hcsshim::sim::campaign {
namespace {

struct ZooCase {
  zoo::Bug bug;
  std::string symptom;  // what the checker says
  uint64_t within;      // seeds from 1000
};

class Zoo : public ::testing::TestWithParam<ZooCase> {};

TEST_P(Zoo, TheCampaignFindsTheBugWithinItsBound) {
  const ZooCase& c = GetParam();
  log::setLevel(LogLevel::kOff);
  zoo::Reintroduce bug(c.bug);
  std::optional<uint64_t> foundAt;
  std::string seen;
  for (uint64_t seed = 1000; seed < 1000 + c.within && !foundAt; ++seed) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    Options o{.seed = seed, .dir = std::string(tmp ? tmp : "/tmp") + "/zoo-" + std::to_string(seed)};
    Result r = run(o);
    for (const auto& v : r.violations) {
      if (v.find(c.symptom) != std::string::npos) {
        foundAt = seed;
        seen = v + "\nreplay: " + replayCommand(o);
      }
    }
  }
  ASSERT_TRUE(foundAt) << zoo::name(c.bug) << " not found in " << c.within << " seeds";
  std::printf("zoo %s: found at seed %llu (the %llu. seed): %s\n", std::string(zoo::name(c.bug)).c_str(),
              static_cast<unsigned long long>(*foundAt), static_cast<unsigned long long>(*foundAt - 1000 + 1),
              seen.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Bugs, Zoo,
    ::testing::Values(ZooCase{zoo::Bug::kExitBeforeOutputDrained, "exit came before its output", 10},
                      ZooCase{zoo::Bug::kRuncStateDeletedDuringStart, "failed though its VM did not break", 10},
                      ZooCase{zoo::Bug::kBridgeClosedBeforeShutdown, "died (UnexpectedExit)", 10}),
    [](const ::testing::TestParamInfo<ZooCase>& i) {
      std::string n(zoo::name(i.param.bug));
      for (char& ch : n) {
        if (ch == '-') ch = '_';
      }
      return n;
    });

TEST(ZooSwitch, OnlyWhileReintroducedAndByName) {
  EXPECT_FALSE(zoo::reintroduced(zoo::Bug::kExitBeforeOutputDrained));
  {
    zoo::Reintroduce bug(zoo::Bug::kExitBeforeOutputDrained);
    EXPECT_TRUE(zoo::reintroduced(zoo::Bug::kExitBeforeOutputDrained));
    EXPECT_FALSE(zoo::reintroduced(zoo::Bug::kBridgeClosedBeforeShutdown));
  }
  EXPECT_FALSE(zoo::reintroduced(zoo::Bug::kExitBeforeOutputDrained));
  EXPECT_EQ(zoo::byName("runc-state-deleted-during-start"), zoo::Bug::kRuncStateDeletedDuringStart);
  EXPECT_FALSE(zoo::byName("no-such-bug"));
}

}  // namespace
}  // namespace hcsshim::sim::campaign
