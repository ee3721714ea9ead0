#include "src/bridge/hvsock_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/bridge/protocol.h"
#include "src/common/status_matchers.h"

namespace hcsshim::bridge {
namespace {

using hcsshim::testing::IsOk;

// A transport that records what it was asked to listen on.
class RecordingTransport final : public runtime::Transport {
 public:
  StatusOr<std::unique_ptr<runtime::Listener>> listen(std::string_view address) override {
    asked.emplace_back(address);
    return UnimplementedError("recorded");
  }
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> connect(std::string_view) override {
    co_return UnimplementedError("recorded");
  }
  std::vector<std::string> asked;
};

TEST(HvSockHostTest, ListensOnTheVmsRuntimeIdAndThePortsServiceId) {
  RecordingTransport t;
  HvSockHost host(t);
  EXPECT_TRUE(host.needsRuntimeId());
  ASSERT_THAT(host.bindToVm("{2AD3A5F0-1B6C-4E2D-9F1A-0C1D2E3F4A5B}"), IsOk());
  (void)host.listen(kBridgePort);
  (void)host.listen(109);
  EXPECT_THAT(t.asked, ::testing::ElementsAre(
                           "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/40000000-facb-11e6-bd58-64006a7986d3",
                           "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/0000006d-facb-11e6-bd58-64006a7986d3"));
}

TEST(HvSockHostTest, ListenBeforeTheRuntimeIdIsKnownOrWithABadOneIsRefused) {
  RecordingTransport t;
  HvSockHost host(t);
  EXPECT_EQ(host.listen(kBridgePort).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(host.bindToVm("not-a-guid").code(), Code::kInvalidArgument);
  EXPECT_EQ(host.listen(kBridgePort).status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(t.asked.empty());
}

}  // namespace
}  // namespace hcsshim::bridge
