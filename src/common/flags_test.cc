#include "src/common/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::hcsshim::testing::StatusIs;

struct Fixture {
  FlagSet flags{"prog"};
  std::string gcs = "default", address;
  bool gcsDebug = false, debug = false;
  int64_t n = 0;
  std::vector<std::string> layers;
  Fixture() {
    flags.string("gcs", &gcs, "guest agent path");
    flags.boolean("gcs-debug", &gcsDebug, "guest debug logs");
    flags.boolean("debug", &debug, "debug logs");
    flags.string("address", &address, "socket");
    flags.integer("n", &n, "count");
    flags.strings("layer", &layers, "a layer");
  }
};

TEST(FlagSet, AFlagWhoseNameExtendsAnotherIsItsOwnFlag) {
  Fixture f;
  auto args = f.flags.parse({"--gcs-debug", "/next/arg"});
  ASSERT_TRUE(args.ok()) << args.status().toString();
  EXPECT_TRUE(f.gcsDebug);
  EXPECT_EQ(f.gcs, "default");
  EXPECT_THAT(*args, ElementsAre("/next/arg"));
}

TEST(FlagSet, OneOrTwoDashesJoinedOrSeparateValues) {
  Fixture f;
  auto args = f.flags.parse({"-address", "a", "--gcs=/bin/g", "-n=7", "--layer", "x", "-layer=y", "verb"});
  ASSERT_TRUE(args.ok()) << args.status().toString();
  EXPECT_EQ(f.address, "a");
  EXPECT_EQ(f.gcs, "/bin/g");
  EXPECT_EQ(f.n, 7);
  EXPECT_THAT(f.layers, ElementsAre("x", "y"));
  EXPECT_THAT(*args, ElementsAre("verb"));
  EXPECT_TRUE(f.flags.seen("gcs"));
  EXPECT_FALSE(f.flags.seen("debug"));
}

TEST(FlagSet, BooleansTakeNoSeparateValueButAcceptAnExplicitOne) {
  Fixture f;
  ASSERT_TRUE(f.flags.parse({"-debug", "start"}).ok());
  EXPECT_TRUE(f.debug);
  ASSERT_TRUE(f.flags.parse({"-debug=false"}).ok());
  EXPECT_FALSE(f.debug);
  EXPECT_THAT(f.flags.parse({"-debug=maybe"}), StatusIs(Code::kInvalidArgument));
}

TEST(FlagSet, UnknownFlagsMissingValuesAndBadNumbersNameTheFlag) {
  Fixture f;
  auto unknown = f.flags.parse({"--gc", "x"});
  EXPECT_THAT(unknown, StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown flag --gc"));
  auto missing = f.flags.parse({"--address"});
  EXPECT_THAT(missing.status().message(), HasSubstr("-address needs a value"));
  auto bad = f.flags.parse({"-n", "12x"});
  EXPECT_THAT(bad.status().message(), HasSubstr("-n: want a number"));
}

TEST(FlagSet, StopAtPositionalLeavesTheVerbsArgumentsAlone) {
  Fixture f;
  auto args = f.flags.parse({"-debug", "exec", "-n", "ls", "--", "-l"}, {.stopAtPositional = true});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(f.n, 0);
  EXPECT_THAT(*args, ElementsAre("exec", "-n", "ls", "--", "-l"));
  auto dashdash = f.flags.parse({"--", "-debug"});
  ASSERT_TRUE(dashdash.ok());
  EXPECT_THAT(*dashdash, ElementsAre("-debug"));
}

TEST(FlagSet, CustomFlagErrorsCarryTheFlagName) {
  FlagSet flags("prog");
  flags.custom("version", [](const std::string& v) { return v == "1.0" ? OkStatus() : InvalidArgumentError("want MAJOR.MINOR"); },
               "version");
  EXPECT_TRUE(flags.parse({"--version=1.0"}).ok());
  auto bad = flags.parse({"--version", "x"});
  EXPECT_THAT(bad.status().message(), HasSubstr("-version: want MAJOR.MINOR"));
  EXPECT_THAT(flags.usage(), HasSubstr("-version VALUE"));
}

}  // namespace
}  // namespace hcsshim
