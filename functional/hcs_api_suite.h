// hcs_api_suite.h: what the portable HCS and HNS suites share.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "functional/hcs_api_backend.h"

namespace hcsshim::functional {

// openBackendForThisTest: this build's backend, its recordings named after
// the running scenario (Suite.Test).
inline std::unique_ptr<HcsApiBackend> openBackendForThisTest(std::string& error) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return openHcsApiBackend(std::string(test->test_suite_name()) + "." + test->name(), error);
}

}  // namespace hcsshim::functional
