// The wire primitives on hand-made bytes (the generated classes against
// libprotobuf: //src/protobuf:protogen_compat_test).
#include "src/protobuf/runtime/wire.h"

#include <gtest/gtest.h>

#include <string>

#include "src/protobuf/runtime/codecs.h"

namespace hcsshim::pbrt {
namespace {

std::string varintBytes(uint64_t v) {
  std::string s;
  Writer(&s).varint(v);
  return s;
}

TEST(WireTest, VarintsRoundTripAndTakeAtMostTenBytes) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300}, ~uint64_t{0}}) {
    std::string s = varintBytes(v);
    Reader r(s, 0);
    uint64_t got = 0;
    ASSERT_TRUE(r.varint(&got));
    EXPECT_EQ(got, v);
    EXPECT_TRUE(r.atEnd());
  }
  EXPECT_EQ(varintBytes(~uint64_t{0}).size(), 10u);
  std::string eleven(10, '\x80');
  eleven += '\x01';
  Reader r(eleven, 0);
  uint64_t v;
  EXPECT_FALSE(r.varint(&v));
  std::string truncated = "\x80\x80";
  Reader t(truncated, 0);
  EXPECT_FALSE(t.varint(&v));
}

TEST(WireTest, NegativeInt32IsTenBytesAndReadsBack) {
  std::string s;
  Writer w(&s);
  codec::Int32::write(w, -1);
  EXPECT_EQ(s.size(), 10u);
  Reader r(s, 0);
  int32_t v = 0;
  ASSERT_TRUE(codec::Int32::read(r, &v));
  EXPECT_EQ(v, -1);
}

TEST(WireTest, SignedZigZag) {
  for (int32_t v : {0, -1, 1, -2, 2147483647, -2147483647 - 1}) {
    std::string s;
    Writer w(&s);
    codec::SInt32::write(w, v);
    Reader r(s, 0);
    int32_t got;
    ASSERT_TRUE(codec::SInt32::read(r, &got));
    EXPECT_EQ(got, v);
  }
  std::string s;
  Writer w(&s);
  codec::SInt32::write(w, -1);
  EXPECT_EQ(s, "\x01");
}

TEST(WireTest, MalformedTagsAreRefused) {
  uint32_t f;
  WireType t;
  for (std::string bad : {std::string("\x00", 1), std::string("\x06"), std::string("\x07"), std::string("\x80")}) {
    Reader r(bad, 0);
    EXPECT_FALSE(r.tag(&f, &t)) << static_cast<int>(bad[0]);
  }
  std::string ok = "\x08";
  Reader r(ok, 0);
  ASSERT_TRUE(r.tag(&f, &t));
  EXPECT_EQ(f, 1u);
  EXPECT_EQ(t, WireType::kVarint);
}

TEST(WireTest, LengthBeyondTheInputIsRefused) {
  std::string s = "\x05" "abc";
  Reader r(s, 0);
  std::string_view sv;
  EXPECT_FALSE(r.length(&sv));
}

TEST(WireTest, SkipKeepsTheWholeUnknownFieldAndNestedGroups) {
  // field 3 start group, inside field 1 varint 5, field 3 end group
  std::string s = "\x1b\x08\x05\x1c";
  Reader r(s, 0);
  uint32_t f;
  WireType t;
  ASSERT_TRUE(r.tag(&f, &t));
  std::string unknown;
  ASSERT_TRUE(r.skip(f, t, &unknown));
  EXPECT_EQ(unknown, s);
  EXPECT_TRUE(r.atEnd());
  std::string mismatched = "\x1b\x24";  // start group 3, end group 4
  Reader m(mismatched, 0);
  ASSERT_TRUE(m.tag(&f, &t));
  EXPECT_FALSE(m.skip(f, t, nullptr));
}

TEST(WireTest, GroupsNestedPastTheDepthLimitAreRefused) {
  std::string s;
  for (int i = 0; i < kMaxDepth + 5; ++i) s += "\x0b";  // start group 1
  for (int i = 0; i < kMaxDepth + 5; ++i) s += "\x0c";
  Reader r(s, 0);
  uint32_t f;
  WireType t;
  ASSERT_TRUE(r.tag(&f, &t));
  EXPECT_FALSE(r.skip(f, t, nullptr));
}

TEST(WireTest, Utf8Validation) {
  EXPECT_TRUE(validUtf8("plain"));
  EXPECT_TRUE(validUtf8("\xc3\xa9t\xc3\xa9"));
  EXPECT_TRUE(validUtf8("\xf0\x9f\x90\xb3"));
  EXPECT_FALSE(validUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(validUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(validUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(validUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(validUtf8("\xff"));
}

}  // namespace
}  // namespace hcsshim::pbrt
