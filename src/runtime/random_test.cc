#include "src/runtime/random.h"

#include <gtest/gtest.h>

#include <vector>

namespace hcsshim::runtime {
namespace {

TEST(RandomTest, SameSeedSameSequenceDifferentSeedDifferent) {
  Random a(42), b(42), c(43);
  std::vector<uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.next());
    vb.push_back(b.next());
    vc.push_back(c.next());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
}

TEST(RandomTest, SequenceIsPinnedAcrossPlatforms) {
  // xoshiro256** seeded by splitmix64(0): the published reference values.
  // If this changes, every recorded simulation seed replays differently.
  Random r(0);
  uint64_t first = r.next();
  Random again(0);
  EXPECT_EQ(first, again.next());
  // splitmix64(0) state words are 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, ...
  // xoshiro256** output 1 = rotl(s1 * 5, 7) * 9.
  uint64_t s1 = 0x6e789e6aa1b965f4ull;
  uint64_t x = s1 * 5;
  uint64_t want = ((x << 7) | (x >> 57)) * 9;
  EXPECT_EQ(first, want);
}

TEST(RandomTest, UniformStaysInRangeAndCoversIt) {
  Random r(7);
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = r.uniform(10);
    ASSERT_LT(v, 10u);
    counts[v]++;
  }
  for (int c : counts) {
    EXPECT_GT(c, 9000);
    EXPECT_LT(c, 11000);
  }
  EXPECT_EQ(r.uniform(0), 0u);
  EXPECT_EQ(r.uniform(1), 0u);
}

TEST(RandomTest, BetweenIsInclusive) {
  Random r(9);
  bool sawLo = false, sawHi = false;
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = r.between(5, 8);
    ASSERT_GE(v, 5u);
    ASSERT_LE(v, 8u);
    sawLo |= v == 5;
    sawHi |= v == 8;
  }
  EXPECT_TRUE(sawLo && sawHi);
}

TEST(RandomTest, ChanceExtremesAndForkIndependence) {
  Random r(1);
  EXPECT_FALSE(r.chance(0));
  EXPECT_TRUE(r.chance(1));
  Random f1 = r.fork();
  Random f2 = r.fork();
  EXPECT_NE(f1.next(), f2.next());
  EXPECT_EQ(r.bytes(13).size(), 13u);
}

}  // namespace
}  // namespace hcsshim::runtime
