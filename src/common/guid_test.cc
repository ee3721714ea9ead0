#include "src/common/guid.h"

#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::StatusIs;

TEST(GuidTest, ParseFormatRoundTrip) {
  auto g = Guid::parse("{4F0C8F1E-6C6B-4D46-9C06-8C1D5A3A2B10}");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->data1(), 0x4F0C8F1Eu);
  EXPECT_EQ(g->data2(), 0x6C6Bu);
  EXPECT_EQ(g->data3(), 0x4D46u);
  EXPECT_EQ(g->data4()[0], 0x9C);
  EXPECT_EQ(g->toString(), "4f0c8f1e-6c6b-4d46-9c06-8c1d5a3a2b10");
  auto again = Guid::parse(g->toString());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *g);
}

TEST(GuidTest, WindowsByteLayoutIsLittleEndianForFirstThreeFields) {
  auto g = Guid::parse("00112233-4455-6677-8899-aabbccddeeff");
  ASSERT_TRUE(g.ok());
  std::array<uint8_t, 16> want = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  EXPECT_EQ(g->toBytesLE(), want);
  EXPECT_EQ(Guid::fromBytesLE(want), *g);
}

TEST(GuidTest, RejectsMalformedWithPosition) {
  EXPECT_THAT(Guid::parse(""), StatusIs(Code::kInvalidArgument, "want 36 characters"));
  EXPECT_THAT(Guid::parse("00112233x4455-6677-8899-aabbccddeeff"), StatusIs(Code::kInvalidArgument, "offset 8"));
  EXPECT_THAT(Guid::parse("0011223g-4455-6677-8899-aabbccddeeff"), StatusIs(Code::kInvalidArgument, "offset 7"));
  EXPECT_THAT(Guid::parse("{00112233-4455-6677-8899-aabbccddeeff"), StatusIs(Code::kInvalidArgument));
}

TEST(GuidTest, RandomIsVersion4Variant1) {
  Guid g = Guid::fromRandom(0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(g.data3() >> 12, 4);
  EXPECT_EQ(g.data4()[0] >> 6, 2);
  EXPECT_NE(Guid::fromRandom(1, 2), Guid::fromRandom(1, 3));
  EXPECT_TRUE(Guid().isNil());
}

}  // namespace
}  // namespace hcsshim
