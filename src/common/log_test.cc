#include "src/common/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace hcsshim {
namespace {

class CaptureSink : public LogSink {
 public:
  void write(LogLevel, std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<CaptureSink>();
    log::setSink(sink_);
    log::setTimeSource([] { return int64_t{1795815008123456789}; });
    log::setLevel(LogLevel::kInfo);
  }
  void TearDown() override {
    log::setSink(nullptr);
    log::setTimeSource(nullptr);
    log::setLevel(LogLevel::kInfo);
  }
  std::shared_ptr<CaptureSink> sink_;
};

TEST_F(LogTest, OneLogfmtLinePerEvent) {
  HLOG(Info, "ttrpc.conn.accepted").kv("conn", 3).kv("peer", "uid 0").kv("ok", true);
  ASSERT_EQ(sink_->lines.size(), 1u);
  EXPECT_EQ(sink_->lines[0],
            "time=2026-11-27T21:30:08.123456789Z level=info event=ttrpc.conn.accepted conn=3 peer=\"uid 0\" ok=true");
}

TEST_F(LogTest, EscapesQuotesNewlinesAndControlBytes) {
  HLOG(Warn, "x").kv("msg", std::string("a\"b\nc\x01", 6));
  ASSERT_EQ(sink_->lines.size(), 1u);
  EXPECT_THAT(sink_->lines[0], ::testing::EndsWith("msg=\"a\\\"b\\nc\\x01\""));
}

TEST_F(LogTest, LevelFiltersAndSkipsArgumentEvaluation) {
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  HLOG(Debug, "hidden").kv("n", count());
  EXPECT_EQ(evaluated, 0);
  EXPECT_TRUE(sink_->lines.empty());
  log::setLevel(LogLevel::kDebug);
  HLOG(Debug, "shown").kv("n", count());
  EXPECT_EQ(evaluated, 1);
  EXPECT_EQ(sink_->lines.size(), 1u);
}

TEST_F(LogTest, ParseLevel) {
  EXPECT_EQ(*log::parseLevel("debug"), LogLevel::kDebug);
  EXPECT_FALSE(log::parseLevel("loud").ok());
}

TEST_F(LogTest, StatusValueIsRendered) {
  HLOG(Error, "fail").kv("err", NotFoundError("gone"));
  EXPECT_THAT(sink_->lines[0], ::testing::HasSubstr("err=\"gone [NotFound, HRESULT 0x80070490 ERROR_NOT_FOUND]\""));
}

}  // namespace
}  // namespace hcsshim
