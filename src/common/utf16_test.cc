#include "src/common/utf16.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;

TEST(Utf16Test, EveryPlaneRoundTrips) {
  // ASCII, 2-byte (é), 3-byte (€, the last BMP code point), 4-byte (😀, U+10FFFF).
  const std::string text = "{\"Id\":\"vm-\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}";
  auto w = toUtf16(text);
  ASSERT_THAT(w, IsOk());
  EXPECT_EQ(w->substr(0, 7), u"{\"Id\":\"");
  EXPECT_EQ((*w)[10], u'\u00e9');
  EXPECT_EQ((*w)[11], u'\u20ac');
  EXPECT_EQ((*w)[13], char16_t(0xD83D)) << "U+1F600 as a surrogate pair";
  EXPECT_EQ((*w)[14], char16_t(0xDE00));
  auto back = fromUtf16(*w);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, text);
  EXPECT_EQ(*fromUtf16z(w->c_str()), text);
  EXPECT_EQ(*fromUtf16z(nullptr), "");
}

TEST(Utf16Test, MalformedUtf8IsRefusedNamingTheByte) {
  struct Case {
    std::string in, why;
  } cases[] = {
      {"ab\xff", "at byte 2: not a leading byte"},
      {"a\xc3", "at byte 1: truncated sequence"},
      {"\xe2\x28\xa1", "at byte 1: not a continuation byte"},
      {"\xc0\xaf", "overlong form"},
      {"\xe0\x80\xaf", "overlong form"},
      {"\xed\xa0\x80", "a surrogate code point"},
      {"\xf4\x90\x80\x80", "past U+10FFFF"},
      {std::string("a\0b", 3), "at byte 1: an embedded NUL"},
  };
  for (const auto& c : cases) {
    auto w = toUtf16(c.in);
    ASSERT_FALSE(w.ok()) << c.why;
    EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(w.status().message(), HasSubstr(c.why));
  }
}

TEST(Utf16Test, UnpairedSurrogatesAndNulsAreRefusedNamingTheUnit) {
  EXPECT_THAT(fromUtf16(std::u16string{u'a', char16_t(0xD800)}).status().message(),
              HasSubstr("at code unit 1: a leading surrogate without a trailing one"));
  EXPECT_THAT(fromUtf16(std::u16string{char16_t(0xD800), u'b'}).status().message(),
              HasSubstr("at code unit 0: a leading surrogate"));
  EXPECT_THAT(fromUtf16(std::u16string{char16_t(0xDC00)}).status().message(),
              HasSubstr("a trailing surrogate without a leading one"));
  EXPECT_THAT(fromUtf16(std::u16string(u"a\0b", 3)).status().message(), HasSubstr("an embedded NUL"));
}

}  // namespace
}  // namespace hcsshim
