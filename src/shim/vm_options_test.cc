// A task's VM settings from runtime options and annotations.
#include "src/shim/vm_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"
#include "src/containerd/api/runhcs_options.pb.h"

namespace hcsshim::shim {
namespace {

using ::hcsshim::testing::StatusIs;

hcsshim::protobuf::Any options(int memory, int cpus, const std::string& boot) {
  containerd::runhcs::v1::Options o;
  o.set_vm_memory_size_in_mb(memory);
  o.set_vm_processor_count(cpus);
  o.set_boot_files_root_path(boot);
  hcsshim::protobuf::Any any;
  any.set_type_url("containerd.runhcs.v1.Options");
  any.set_value(o.SerializeAsString());
  return any;
}

TEST(VmOptionsTest, DefaultsOptionsThenAnnotations) {
  auto d = vmOptions("t1", {}, Json::object(), "/default/boot");
  ASSERT_TRUE(d.ok()) << d.status().toString();
  EXPECT_EQ(d->id, "runhcs-t1");
  EXPECT_EQ(d->bootFilesPath, "/default/boot");
  EXPECT_EQ(d->memoryMB, 512u);
  EXPECT_EQ(d->processors, 1u);
  auto o = vmOptions("t1", options(2048, 4, "/opt/boot"), Json::object(), "/default/boot");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->memoryMB, 2048u);
  EXPECT_EQ(o->processors, 4u);
  EXPECT_EQ(o->bootFilesPath, "/opt/boot");
  Json spec = {{"annotations",
                {{"io.microsoft.virtualmachine.computetopology.memory.sizeinmb", "1024"},
                 {"io.microsoft.virtualmachine.computetopology.processor.count", "2"},
                 {"io.microsoft.virtualmachine.lcow.bootfilesrootpath", "/annotated/boot"}}}};
  auto a = vmOptions("t1", options(2048, 4, "/opt/boot"), spec, "/default/boot");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->memoryMB, 1024u);
  EXPECT_EQ(a->processors, 2u);
  EXPECT_EQ(a->bootFilesPath, "/annotated/boot");
}

TEST(VmOptionsTest, BadInputNamesTheField) {
  hcsshim::protobuf::Any wrong;
  wrong.set_type_url("containerd.runc.v1.Options");
  EXPECT_THAT(vmOptions("t", wrong, Json::object(), "/b"), StatusIs(Code::kInvalidArgument, "want containerd.runhcs.v1.Options"));
  hcsshim::protobuf::Any garbage;
  garbage.set_type_url("containerd.runhcs.v1.Options");
  garbage.set_value("\xff\xff\xff");
  EXPECT_THAT(vmOptions("t", garbage, Json::object(), "/b"), StatusIs(Code::kInvalidArgument, "does not decode"));
  EXPECT_THAT(vmOptions("t", options(-1, 0, ""), Json::object(), "/b"), StatusIs(Code::kInvalidArgument, "negative"));
  Json bad = {{"annotations", {{"io.microsoft.virtualmachine.computetopology.memory.sizeinmb", "12x"}}}};
  EXPECT_THAT(vmOptions("t", {}, bad, "/b"), StatusIs(Code::kInvalidArgument, "\"12x\" is not a number"));
  Json notString = {{"annotations", {{"io.microsoft.virtualmachine.computetopology.processor.count", 2}}}};
  EXPECT_THAT(vmOptions("t", {}, notString, "/b"), StatusIs(Code::kInvalidArgument, "want a string"));
  EXPECT_THAT(vmOptions("t", {}, Json::object(), ""), StatusIs(Code::kFailedPrecondition, "no boot files"));
}

TEST(VmOptionsTest, PodMembershipAndNetworkNamespace) {
  Json member = {{"annotations", {{"io.kubernetes.cri.container-type", "container"}, {"io.kubernetes.cri.sandbox-id", "sb"}}}};
  EXPECT_EQ(sandboxOf(member), "sb");
  Json sandbox = {{"annotations", {{"io.kubernetes.cri.container-type", "sandbox"}, {"io.kubernetes.cri.sandbox-id", "sb"}}}};
  EXPECT_EQ(sandboxOf(sandbox), "");
  EXPECT_EQ(sandboxOf(Json::array()), "");
  EXPECT_EQ(*networkNamespaceOf(Json::object()), "");
  Json ns = {{"windows", {{"network", {{"networkNamespace", "abc"}}}}}};
  EXPECT_EQ(*networkNamespaceOf(ns), "abc");
  Json badNs = {{"windows", {{"network", {{"networkNamespace", 7}}}}}};
  EXPECT_THAT(networkNamespaceOf(badNs), StatusIs(Code::kInvalidArgument, "want an HCN namespace id"));
}

}  // namespace
}  // namespace hcsshim::shim
