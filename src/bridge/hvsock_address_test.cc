#include "src/bridge/hvsock_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim::bridge {
namespace {

using ::testing::HasSubstr;
using hcsshim::testing::IsOk;

TEST(HvSockAddressTest, VsockPortsBecomeTemplateServiceIds) {
  EXPECT_EQ(serviceIdForPort(0x40000000).toString(), "40000000-facb-11e6-bd58-64006a7986d3") << "the bridge";
  EXPECT_EQ(serviceIdForPort(109).toString(), "0000006d-facb-11e6-bd58-64006a7986d3") << "the guest's log";
  EXPECT_EQ(serviceIdForPort(1).toString(), "00000001-facb-11e6-bd58-64006a7986d3") << "entropy";
  EXPECT_EQ(portOfServiceId(serviceIdForPort(0x40000001)), 0x40000001u);
  EXPECT_EQ(portOfServiceId(*Guid::parse("acef5661-84a1-4e44-856b-6245e69f4620")), std::nullopt) << "WCOW's GCS service";
}

TEST(HvSockAddressTest, SockaddrHvHasTheWindowsLayout) {
  HvSocketAddress a{*Guid::parse("4f0c8f1e-6c6b-4d46-9c06-8c1d5a3a2b10"), serviceIdForPort(0x40000000)};
  auto bytes = encodeSockaddrHv(a);
  EXPECT_EQ(bytes[0], 34);
  EXPECT_EQ(bytes[1], 0);
  EXPECT_EQ(bytes[2], 0) << "Reserved";
  // VmId @4: Data1 little-endian first.
  EXPECT_EQ(bytes[4], 0x1e);
  EXPECT_EQ(bytes[7], 0x4f);
  EXPECT_EQ(bytes[8], 0x6b) << "Data2 little-endian";
  EXPECT_EQ(bytes[12], 0x9c) << "Data4 as is";
  // ServiceId @20: 40000000-facb-...
  EXPECT_EQ(bytes[23], 0x40);
  EXPECT_EQ(bytes[24], 0xcb);
  EXPECT_EQ(bytes[35], 0xd3);
  auto back = decodeSockaddrHv(bytes.data(), bytes.size());
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, a);
}

TEST(HvSockAddressTest, HostileAddressesAreRefused) {
  auto bytes = encodeSockaddrHv({hvGuidLoopback(), serviceIdForPort(5)});
  EXPECT_THAT(decodeSockaddrHv(bytes.data(), 35).status().message(), HasSubstr("want 36 bytes, got 35"));
  EXPECT_THAT(decodeSockaddrHv(nullptr, 36).status().message(), HasSubstr("want 36 bytes"));
  bytes[0] = 40;  // AF_VSOCK
  EXPECT_THAT(decodeSockaddrHv(bytes.data(), bytes.size()).status().message(), HasSubstr("family 40, want 34"));
  EXPECT_EQ(hvGuidChildren().toString(), "90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd");
  EXPECT_TRUE(hvGuidWildcard().isNil());
  EXPECT_EQ(hvGuidParent().toString(), "a42e7cda-d03f-480c-9cc2-a4de20abb878");
}

TEST(HvSockAddressTest, UrisRoundTripAndTakeVsockPorts) {
  HvSocketAddress a{*Guid::parse("2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b"), serviceIdForPort(0x40000000)};
  EXPECT_EQ(formatHvsockUri(a),
            "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/40000000-facb-11e6-bd58-64006a7986d3");
  auto back = parseHvsockUri(formatHvsockUri(a));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, a);
  auto port = parseHvsockUri("hvsock://{2AD3A5F0-1B6C-4E2D-9F1A-0C1D2E3F4A5B}/vsock:1073741824");
  ASSERT_THAT(port, IsOk());
  EXPECT_EQ(*port, a);
  for (const char* bad : {"", "hvsock://", "tcp://127.0.0.1:1", "hvsock://not-a-guid/vsock:1",
                          "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b", "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/",
                          "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/vsock:", "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/vsock:-1",
                          "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/vsock:4294967296",
                          "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/vsock:99999999999999999999"}) {
    auto r = parseHvsockUri(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace hcsshim::bridge
