// The bridge wire format: header layout, type encoding, frame limits, payloads.
#include "src/bridge/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/bridge/messages.h"
#include "src/common/status_matchers.h"

namespace hcsshim::bridge {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

TEST(BridgeProtocolTest, HeaderIsLittleEndianTypeSizeId) {
  char raw[kHeaderSize];
  encodeHeader(Header{msg::kExecuteProcess, 0x1234, 0x0102030405060708ull}, raw);
  const unsigned char want[kHeaderSize] = {0x01, 0x05, 0x10, 0x10, 0x34, 0x12, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_EQ(std::string(raw, kHeaderSize), std::string(reinterpret_cast<const char*>(want), kHeaderSize));
  EXPECT_EQ(decodeHeader(raw), (Header{msg::kExecuteProcess, 0x1234, 0x0102030405060708ull}));
}

TEST(BridgeProtocolTest, TypeEncoding) {
  EXPECT_EQ(responseTypeOf(msg::kCreate), 0x20100101u);
  EXPECT_EQ(requestTypeOf(0x20100A01u), msg::kModifySettings);
  EXPECT_EQ(kindOf(msg::kContainerNotification), Kind::kNotification);
  EXPECT_EQ(kindOf(msg::kModifyServiceSettings), Kind::kRequest);
  EXPECT_EQ(typeName(msg::kNegotiateProtocol), "NegotiateProtocol");
  EXPECT_EQ(typeName(responseTypeOf(msg::kWaitForProcess)), "WaitForProcess response");
  EXPECT_EQ(typeName(0x10109901), "0x10109901");
}

TEST(BridgeProtocolTest, FrameSizeIncludesTheHeader) {
  auto f = encodeFrame(msg::kStart, 7, R"({"ContainerId":"c"})");
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->size(), kHeaderSize + 19);
  EXPECT_EQ(decodeHeader(f->data()).size, kHeaderSize + 19);
  auto parsed = parseFrame(*f + "trailing");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->second, f->size());
  EXPECT_EQ(parsed->first.payload, R"({"ContainerId":"c"})");
  EXPECT_EQ(parsed->first.header.id, 7u);
}

TEST(BridgeProtocolTest, SizesOutsideTheLimitsAreRefused) {
  EXPECT_THAT(encodeFrame(msg::kStart, 1, std::string(kMaxMessageSize - kHeaderSize, 'x')), IsOk());
  EXPECT_THAT(encodeFrame(msg::kStart, 1, std::string(kMaxMessageSize - kHeaderSize + 1, 'x')),
              StatusIs(Code::kResourceExhausted, "exceeds the bridge limit of 65536"));
  char raw[kHeaderSize];
  for (uint32_t size : {0u, 15u, 65537u, 0xFFFFFFFFu}) {
    encodeHeader(Header{msg::kStart, size, 9}, raw);
    EXPECT_THAT(parseFrame(std::string_view(raw, kHeaderSize)), StatusIs(Code::kInvalidArgument, "outside 16..65536"))
        << size;
  }
  encodeHeader(Header{msg::kStart, 100, 9}, raw);
  EXPECT_THAT(parseFrame(std::string_view(raw, kHeaderSize)), StatusIs(Code::kUnavailable)) << "incomplete";
  EXPECT_THAT(parseFrame("short"), StatusIs(Code::kUnavailable));
}

TEST(BridgeProtocolTest, JsonInsideStringFieldsRoundTrip) {
  ProcessParameters pp;
  pp.commandArgs = {"echo", "hello"};
  pp.ociProcess = Json{{"args", {"echo", "hello"}}, {"cwd", "/"}};
  ExecuteProcessRequest req;
  req.containerId = "c1";
  req.settings.processParameters = jsonText(schema::encode(pp));
  req.settings.vsockStdioRelaySettings = StdioRelaySettings{0x40000001, 0x40000002, std::nullopt, {}};
  Json wire = schema::encode(req);
  EXPECT_TRUE(wire["Settings"]["ProcessParameters"].is_string()) << "JSON inside a string, as the guest expects";
  EXPECT_EQ(wire["Settings"]["VsockStdioRelaySettings"]["StdIn"], 0x40000001);
  auto back = schema::decode<ExecuteProcessRequest>(std::string_view(jsonText(wire)));
  ASSERT_THAT(back, IsOk());
  auto inner = schema::decode<ProcessParameters>(std::string_view(back->settings.processParameters));
  ASSERT_THAT(inner, IsOk());
  EXPECT_EQ(inner->commandArgs, pp.commandArgs);
  EXPECT_EQ(inner->ociProcess["cwd"], "/");
}

TEST(BridgeProtocolTest, WrongTypesNameTheField) {
  EXPECT_THAT(schema::decode<WaitForProcessRequest>(std::string_view(R"({"ProcessId":"seven"})")),
              StatusIs(Code::kInvalidArgument, "ProcessId"));
  EXPECT_THAT(schema::decode<ModifySettingsRequest>(std::string_view(R"({"Request":{"ResourceType":5}})")),
              StatusIs(Code::kInvalidArgument, "Request.ResourceType"));
}

TEST(BridgeProtocolTest, ResponsesCarryHResults) {
  ResponseBase r;
  fillResponse(r, Status::fromHResult(hresult::kInvalidArg, "Create", "c1", "bad spec"));
  EXPECT_EQ(static_cast<uint32_t>(r.result), hresult::kInvalidArg);
  EXPECT_EQ(r.errorMessage, "bad spec");
  ASSERT_EQ(r.errorRecords.size(), 1u);
  Json wire = schema::encode(r);
  EXPECT_EQ(wire["Result"], -2147024809) << "Result is an int32 on the wire";
  auto st = statusFromResponse(r, "Create", "c1");
  EXPECT_EQ(st.hresult(), hresult::kInvalidArg);
  EXPECT_EQ(st.message(), "bad spec");
  ResponseBase ok;
  EXPECT_THAT(statusFromResponse(ok, "Create", "c1"), IsOk());
}

}  // namespace
}  // namespace hcsshim::bridge
