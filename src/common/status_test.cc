#include "src/common/status.h"

#include <cerrno>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

TEST(StatusTest, DefaultIsOkAndCarriesNothing) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.hresult(), 0u);
  EXPECT_EQ(s.toString(), "OK");
}

TEST(StatusTest, FromHResultKeepsWireValueAndMapsCode) {
  Status s = Status::fromHResult(hresult::kHcsInvalidState, "Start", "vm1", "system is already running");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.hresult(), 0x80370105u);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.op(), "Start");
  EXPECT_EQ(s.id(), "vm1");
  EXPECT_EQ(s.toString(),
            "Start(vm1): system is already running [FailedPrecondition, HRESULT 0x80370105 HCS_E_INVALID_STATE]");
}

TEST(StatusTest, SuccessHResultsAreOk) {
  EXPECT_TRUE(Status::fromHResult(0, "op", "id", "x").ok());
  EXPECT_TRUE(Status::fromHResult(1, "op", "id", "x").ok());  // S_FALSE
}

struct MappingCase {
  HResult hr;
  Code code;
};

class HResultMappingTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(HResultMappingTest, FollowsTheRetryRule) {
  EXPECT_EQ(codeFromHResult(GetParam().hr), GetParam().code)
      << std::hex << GetParam().hr << " -> " << codeName(codeFromHResult(GetParam().hr));
}

INSTANTIATE_TEST_SUITE_P(
    Facts, HResultMappingTest,
    ::testing::Values(MappingCase{0x80370105, Code::kFailedPrecondition},  // invalid state
                      MappingCase{0xC0370105, Code::kFailedPrecondition},
                      MappingCase{0x8037010E, Code::kNotFound},            // system not found
                      MappingCase{0xC037010E, Code::kNotFound},
                      MappingCase{0x80070490, Code::kNotFound},            // element not found
                      MappingCase{0x8037010F, Code::kAlreadyExists},
                      MappingCase{0x8037010D, Code::kInvalidArgument},     // invalid JSON
                      MappingCase{0x80070057, Code::kInvalidArgument},     // E_INVALIDARG
                      MappingCase{0x80004001, Code::kUnimplemented},       // E_NOTIMPL
                      MappingCase{0x80070032, Code::kUnimplemented},       // not supported
                      MappingCase{0x80370109, Code::kDeadlineExceeded},    // connection timeout
                      MappingCase{0xC0370109, Code::kDeadlineExceeded},
                      MappingCase{0x80370114, Code::kUnavailable},         // service not available
                      MappingCase{0x8037010A, Code::kUnavailable},         // connection closed
                      MappingCase{0x80370100, Code::kAborted},             // terminated during start
                      MappingCase{0x8037011B, Code::kPermissionDenied},
                      MappingCase{0x80370110, Code::kFailedPrecondition},  // already stopped
                      MappingCase{0x803B0013, Code::kAlreadyExists},       // HCN port exists
                      MappingCase{0x80004005, Code::kUnknown},             // E_FAIL
                      MappingCase{0x81234567, Code::kUnknown}));

TEST(StatusTest, CodeRoundTripsThroughItsHResult) {
  for (int c = 1; c <= 16; ++c) {
    Code code = static_cast<Code>(c);
    if (code == Code::kDataLoss || code == Code::kUnauthenticated || code == Code::kUnknown) continue;
    EXPECT_EQ(codeFromHResult(hresultFromCode(code)), code) << codeName(code);
  }
}

TEST(StatusTest, CanonicalConstructorsPickHResult) {
  EXPECT_THAT(InvalidArgumentError("bad"), HResultIs(hresult::kInvalidArg));
  EXPECT_THAT(UnimplementedError("no"), HResultIs(hresult::kNotImpl));
  EXPECT_THAT(NotFoundError("gone"), StatusIs(Code::kNotFound, "gone"));
}

TEST(StatusTest, WithContextFillsOnlyEmptyFields) {
  Status s = NotFoundError("no such process").withContext("Signal", "p1");
  EXPECT_EQ(s.op(), "Signal");
  EXPECT_EQ(s.id(), "p1");
  Status t = s.withContext("Other", "p2");
  EXPECT_EQ(t.op(), "Signal");
  EXPECT_EQ(t.id(), "p1");
  EXPECT_TRUE(Status().withContext("a", "b").ok());
}

TEST(StatusTest, ErrnoMapping) {
  EXPECT_THAT(errnoStatus(ENOENT, "open", "/x"), StatusIs(Code::kNotFound));
  EXPECT_THAT(errnoStatus(ECONNRESET, "read"), StatusIs(Code::kUnavailable));
  EXPECT_THAT(errnoStatus(EACCES, "open"), StatusIs(Code::kPermissionDenied));
  EXPECT_EQ(errnoStatus(ENOENT, "open", "/x").op(), "open");
}

TEST(StatusTest, ValidUtf8EscapesOnlyBrokenBytes) {
  EXPECT_EQ(validUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(validUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(validUtf8("\xc3\x28"), "\\xC3(");
  EXPECT_EQ(validUtf8("\xff"), "\\xFF");
  EXPECT_EQ(validUtf8("\xc0\xaf"), "\\xC0\\xAF") << "overlong";
  EXPECT_EQ(validUtf8("\xed\xa0\x80"), "\\xED\\xA0\\x80") << "surrogate";
  EXPECT_EQ(validUtf8("\xe2\x82"), "\\xE2\\x82") << "truncated sequence";
}

StatusOr<int> half(int x) {
  if (x % 2) return InvalidArgumentError("odd");
  return x / 2;
}

Status quarter(int x, int* out) {
  HCS_ASSIGN_OR_RETURN(int h, half(x));
  HCS_ASSIGN_OR_RETURN(*out, half(h));
  return OkStatus();
}

TEST(StatusOrTest, ValueAndErrorPropagation) {
  int q = 0;
  EXPECT_THAT(quarter(8, &q), IsOk());
  EXPECT_EQ(q, 2);
  EXPECT_THAT(quarter(6, &q), StatusIs(Code::kInvalidArgument, "odd"));
  StatusOr<int> bad = Status();  // an OK status is not a value
  EXPECT_THAT(bad, StatusIs(Code::kInternal));
}

}  // namespace
}  // namespace hcsshim
