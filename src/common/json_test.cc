#include "src/common/json.h"

#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

TEST(JsonTest, ParsesAndReadsTypedFields) {
  auto j = parseJson(R"({"Owner":"test","SchemaVersion":{"Major":2,"Minor":1},"Count":3,"Flag":true})");
  ASSERT_THAT(j, IsOk());
  EXPECT_EQ(*jsonField<std::string>(*j, "Owner"), "test");
  EXPECT_EQ(*jsonField<int32_t>((*j)["SchemaVersion"], "Major"), 2);
  EXPECT_EQ(*jsonField<uint32_t>(*j, "Count"), 3u);
  EXPECT_TRUE(*jsonField<bool>(*j, "Flag"));
  auto missing = jsonOptionalField<std::string>(*j, "Missing");
  ASSERT_THAT(missing, IsOk());
  EXPECT_FALSE(missing->has_value());
}

TEST(JsonTest, SyntaxErrorNamesTheByte) {
  EXPECT_THAT(parseJson(R"({"Owner": "x",})"), StatusIs(Code::kInvalidArgument, "invalid JSON at byte 15"));
  EXPECT_THAT(parseJson(""), StatusIs(Code::kInvalidArgument, "invalid JSON at byte"));
  EXPECT_THAT(parseJson("{\"a\":\"\xff\"}"), StatusIs(Code::kInvalidArgument));
}

TEST(JsonTest, WrongTypeNamesTheField) {
  auto j = *parseJson(R"({"Owner":5,"Count":-1,"Small":70000})");
  EXPECT_THAT(jsonField<std::string>(j, "Owner"), StatusIs(Code::kInvalidArgument, "field \"Owner\": want string, got number"));
  EXPECT_THAT(jsonField<uint32_t>(j, "Count"), StatusIs(Code::kInvalidArgument, "field \"Count\": want unsigned integer"));
  EXPECT_THAT(jsonField<int16_t>(j, "Small"), StatusIs(Code::kInvalidArgument, "out of range"));
  EXPECT_THAT(jsonField<std::string>(j, "Absent"), StatusIs(Code::kInvalidArgument, "\"Absent\" is required"));
  EXPECT_THAT(jsonField<std::string>(Json::array(), "X"), StatusIs(Code::kInvalidArgument, "want a JSON object"));
}

TEST(JsonTest, HostileNestingIsRefused) {
  std::string deep(100000, '[');
  EXPECT_THAT(parseJson(deep), StatusIs(Code::kInvalidArgument, "nesting deeper than 128"));
  std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_THAT(parseJson(ok), IsOk());
}

}  // namespace
}  // namespace hcsshim
