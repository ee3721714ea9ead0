// status_matchers.h: gMock matchers for Status and StatusOr (tests only).
//
//   EXPECT_THAT(s, StatusIs(Code::kNotFound));
//   EXPECT_THAT(s, HResultIs(hresult::kHcsSystemNotFound));
//   EXPECT_THAT(r, IsOk());  ASSERT_OK(s);
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status.h"

namespace hcsshim::testing {

inline const Status& toStatus(const Status& s) { return s; }
template <typename T>
Status toStatus(const StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  Status s = ::hcsshim::testing::toStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s.toString();
  return s.ok();
}

MATCHER_P(StatusIs, code, "has code " + ::hcsshim::codeName(code)) {
  Status s = ::hcsshim::testing::toStatus(arg);
  *result_listener << "status is " << s.toString();
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, messageSubstring,
           "has code " + ::hcsshim::codeName(code) + " and message containing \"" + std::string(messageSubstring) + "\"") {
  Status s = ::hcsshim::testing::toStatus(arg);
  *result_listener << "status is " << s.toString();
  return s.code() == code && s.message().find(messageSubstring) != std::string::npos;
}

MATCHER_P(HResultIs, hr, "has HRESULT " + ::testing::PrintToString(hr)) {
  Status s = ::hcsshim::testing::toStatus(arg);
  *result_listener << "status is " << s.toString();
  return s.hresult() == static_cast<::hcsshim::HResult>(hr);
}

}  // namespace hcsshim::testing

#define ASSERT_OK(expr) ASSERT_THAT(expr, ::hcsshim::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(expr, ::hcsshim::testing::IsOk())
