// The whole-stack campaign in CI (campaign.h): seeds in batches over the
// Bazel shards, each with the faults its seed draws; a failure prints the
// command that replays it. HCS_SIM_SEED runs just that seed (batch 0);
// HCS_CAMPAIGN_SEEDS sets the seeds per batch (default 8).
#include <gtest/gtest.h>

#include <cstdlib>

#include "sim/campaign/campaign.h"
#include "sim/world.h"
#include "src/common/log.h"

namespace hcsshim::sim::campaign {
namespace {

std::string scratch(uint64_t seed) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return std::string(tmp ? tmp : "/tmp") + "/campaign-" + std::to_string(seed);
}

std::string report(const Options& o, const Result& r) {
  std::string out = "seed " + std::to_string(o.seed) + " (faults " + faultList(r.faults) + "):\n";
  for (const auto& f : r.injected) out += "  injected: " + f + "\n";
  for (const auto& v : r.violations) out += "  " + v + "\n";
  return out + "replay: " + replayCommand(o);
}

class Campaign : public ::testing::TestWithParam<int> {};

TEST_P(Campaign, SeededLifecyclesUnderSwarmFaultsKeepContainerdsRules) {
  std::vector<uint64_t> seeds;
  if (const char* one = std::getenv("HCS_SIM_SEED")) {
    if (GetParam() != 0) GTEST_SKIP() << "replaying one seed (batch 0)";
    seeds.push_back(std::strtoull(one, nullptr, 10));
  } else {
    uint64_t perBatch = 8;
    if (const char* n = std::getenv("HCS_CAMPAIGN_SEEDS")) perBatch = std::strtoull(n, nullptr, 10);
    for (uint64_t i = 0; i < perBatch; ++i) seeds.push_back(1000 + static_cast<uint64_t>(GetParam()) * perBatch + i);
  }
  log::setLevel(LogLevel::kOff);  // a campaign's runs would log every event
  size_t exits = 0;
  for (uint64_t seed : seeds) {
    Options o{.seed = seed, .dir = scratch(seed)};
    Result r = run(o);
    exits += r.exits;
    EXPECT_TRUE(r.violations.empty()) << report(o, r);
  }
  EXPECT_GE(exits, seeds.size() * 3) << "the workload ran processes to their exits";
}

INSTANTIATE_TEST_SUITE_P(Batches, Campaign, ::testing::Range(0, 16));

// Every kind of fault a seed can draw, on at once, is survived (and does
// happen).
TEST(CampaignFaults, EveryFaultKindAtOnceIsSurvived) {
  log::setLevel(LogLevel::kOff);
  size_t injected = 0;
  for (uint64_t seed = 7000; seed < 7004; ++seed) {
    Options o{.seed = seed, .faults = kSwarmFaults, .dir = scratch(seed)};
    Result r = run(o);
    injected += r.injected.size();
    EXPECT_TRUE(r.violations.empty()) << report(o, r);
  }
  EXPECT_GT(injected, 0u) << "crashes and cuts were injected";
}

// A shim killed while its tasks run: containerd's calls fail, its cleanup
// (`shim delete` per task) leaves no VM and no compute system, every task
// ends deleted with one exit, and new tasks run on the next shim.
TEST(CampaignFaults, AShimKilledMidRunIsCleanedUpAfterAndReplaced) {
  log::setLevel(LogLevel::kOff);
  size_t killed = 0, cleaned = 0;
  for (uint64_t seed = 7100; seed < 7110; ++seed) {
    Options o{.seed = seed, .actors = 3, .generations = 3, .faults = 1u << static_cast<unsigned>(Fault::kShimDeath),
              .dir = scratch(seed)};
    Result r = run(o);
    killed += r.shimsKilled;
    cleaned += r.tasksCleanedUp;
    EXPECT_TRUE(r.violations.empty()) << report(o, r);
  }
  EXPECT_GT(killed, 5u) << "shims died";
  EXPECT_GT(cleaned, 0u) << "containerd cleaned up live tasks after them";
}

// Determinism: the same seed twice gives the same trace, byte for byte (what
// makes a seed a replay).
TEST(CampaignDeterminism, ASeedRunTwiceGivesTheSameTrace) {
  log::setLevel(LogLevel::kOff);
  for (uint64_t seed : {sim::seedFromEnv(4242), uint64_t{4243}, uint64_t{4244}}) {
    // Twice, in two places (the trace does not depend on where).
    Options o{.seed = seed, .dir = scratch(seed)};
    Result first = run(o);
    o.dir += "-again";
    Result second = run(o);
    EXPECT_FALSE(first.trace.empty());
    EXPECT_EQ(first.traceHash, second.traceHash) << "seed " << seed;
    EXPECT_TRUE(first.trace == second.trace)
        << "seed " << seed << ": " << first.trace.size() << " vs " << second.trace.size() << " bytes of trace";
  }
}

TEST(CampaignFlags, FaultSetsParseAndNameEachOther) {
  std::optional<unsigned> set = 5u;
  ASSERT_TRUE(parseFaultSet("none", &set));
  EXPECT_EQ(set, 0u);
  ASSERT_TRUE(parseFaultSet("swarm", &set));
  EXPECT_FALSE(set);
  ASSERT_TRUE(parseFaultSet("guest-crash,late-hcs", &set));
  ASSERT_TRUE(set);
  EXPECT_EQ(faultList(*set), "late-hcs,guest-crash");
  EXPECT_FALSE(parseFaultSet("guest-crash,nonsense", &set));
  EXPECT_FALSE(parseFaultSet("guest-crash,", &set));
  EXPECT_FALSE(parseFaultSet("", &set));
  EXPECT_EQ(faultList(kAllFaults).find("none"), std::string::npos);
}

}  // namespace
}  // namespace hcsshim::sim::campaign
