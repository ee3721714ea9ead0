// Linked into tests that also run under protogen_test (tools/build_defs/
// protobuf.bzl): the binary links the protobuf implementation its rule
// says it runs ($HCS_PROTOBUF_IMPLEMENTATION, set only by protogen_test).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "src/protobuf/api.h"

namespace hcsshim::pb {
namespace {

TEST(ProtobufImplementation, IsTheOneTheTestRuleBuiltFor) {
  const char* want = std::getenv("HCS_PROTOBUF_IMPLEMENTATION");
  EXPECT_EQ(std::string(want ? want : "libprotobuf-lite"), kImplementation);
}

}  // namespace
}  // namespace hcsshim::pb
