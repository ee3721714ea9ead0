#include "src/ttrpc/channel.h"

#include <gtest/gtest.h>

#include "sim/network.h"
#include "sim/node.h"
#include "src/common/status_matchers.h"

namespace hcsshim::ttrpc {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

TEST(FrameHeaderTest, BigEndianLayout) {
  char buf[kHeaderSize];
  encodeHeader(FrameHeader{0x01020304, 0x0A0B0C0D, 0x02, 0x05}, buf);
  EXPECT_EQ(std::string(buf, kHeaderSize), std::string("\x01\x02\x03\x04\x0a\x0b\x0c\x0d\x02\x05", 10));
  FrameHeader h = decodeHeader(buf);
  EXPECT_EQ(h.length, 0x01020304u);
  EXPECT_EQ(h.streamId, 0x0A0B0C0Du);
  EXPECT_EQ(h.type, 2);
  EXPECT_EQ(h.flags, 5);
}

class ChannelTest : public ::testing::Test {
 protected:
  ChannelTest() : world_(5), a_(world_.addNode("a")), b_(world_.addNode("b")) {
    auto [x, y] = sim::newStreamPair(world_.network(), a_, b_);
    sender_ = std::make_unique<Channel>(std::move(x), 64);
    receiver_ = std::make_unique<Channel>(std::move(y), 64);
  }
  template <typename T>
  T run(runtime::Task<T> t) {
    return runtime::blockOn(a_.loop(), std::move(t));
  }
  sim::World world_;
  sim::Node& a_;
  sim::Node& b_;
  std::unique_ptr<Channel> sender_, receiver_;
};

TEST_F(ChannelTest, FramesSurviveArbitrarySplitting) {
  for (uint32_t i = 1; i < 60; i += 2) {
    ASSERT_THAT(sender_->send(i, MessageType::kRequest, 0, std::string(i, 'a' + i % 26)), IsOk());
  }
  for (uint32_t i = 1; i < 60; i += 2) {
    auto f = run(receiver_->recv());
    ASSERT_THAT(f, IsOk());
    EXPECT_EQ(f->header.streamId, i);
    EXPECT_EQ(f->payload, std::string(i, 'a' + i % 26));
  }
}

TEST_F(ChannelTest, OversizeIsDiscardedAndTheNextFrameFound) {
  // The sender's own limit stops it, so write the raw frame.
  char hdr[kHeaderSize];
  encodeHeader(FrameHeader{100, 7, 1, 0}, hdr);
  std::string raw = std::string(hdr, kHeaderSize) + std::string(100, 'x');
  ASSERT_THAT(run(sender_->stream().write(raw)), IsOk());
  ASSERT_THAT(sender_->send(9, MessageType::kRequest, 0, "ok"), IsOk());
  EXPECT_THAT(sender_->send(11, MessageType::kRequest, 0, std::string(65, 'y')), StatusIs(Code::kResourceExhausted));
  auto f = run(receiver_->recv());
  ASSERT_THAT(f, IsOk());
  EXPECT_TRUE(f->oversize);
  EXPECT_EQ(f->header.streamId, 7u);
  auto g = run(receiver_->recv());
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(g->payload, "ok");
}

TEST_F(ChannelTest, EofCases) {
  ASSERT_THAT(run(sender_->stream().write(std::string("\0\0\0\5\0\0\0\1\1\0abc", 13))), IsOk());
  ASSERT_THAT(sender_->stream().shutdownWrite(), IsOk());
  auto f = run(receiver_->recv());
  EXPECT_THAT(f, StatusIs(Code::kUnavailable, "truncated ttrpc message on stream 1"));
}

TEST_F(ChannelTest, CleanEofBetweenFrames) {
  ASSERT_THAT(sender_->send(1, MessageType::kRequest, 0, "x"), IsOk());
  world_.runFor(std::chrono::milliseconds(1));
  sender_->close();
  ASSERT_THAT(run(receiver_->recv()), IsOk());
  auto f = run(receiver_->recv());
  EXPECT_TRUE(runtime::isCleanEof(f.status())) << f.status();
}

}  // namespace
}  // namespace hcsshim::ttrpc
