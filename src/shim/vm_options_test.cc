// A task's VM settings from runtime options and annotations.
#include "src/shim/vm_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"
#include <cstdlib>
#include <fstream>

#include "src/containerd/api/runhcs_options.pb.h"
#include "src/containerd/api/runtimeoptions.pb.h"
#include "src/hns/hcn.h"

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

// What Debian's containerd sends for a CRI handler's options table (it has
// no runhcs options type compiled in): runtimeoptions.v1.Options naming a
// file; the shim reads the runhcs options from it.
hcsshim::protobuf::Any generic(const std::string& path, const std::string& typeUrl = "") {
  runtimeoptions::v1::Options o;
  o.set_type_url(typeUrl);
  o.set_config_path(path);
  hcsshim::protobuf::Any any;
  any.set_type_url("runtimeoptions.v1.Options");
  any.set_value(o.SerializeAsString());
  return any;
}

std::string writeFile(const std::string& name, const std::string& text) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(VmOptionsTest, GenericRuntimeOptionsNameAFileOfRunhcsOptions) {
  std::string path = writeFile("runhcs.toml",
                               "# the runhcs handler\n"
                               "SandboxPlatform = \"linux/amd64\"\n"
                               "SandboxIsolation = 1\n"
                               "BootFilesRootPath = \"/opt/boot # not a comment\"  # a comment\n"
                               "vm_memory_size_in_mb = 1536\n"
                               "VmProcessorCount = 2\n"
                               "Debug = true\n");
  auto o = vmOptions("t1", generic(path, "io.containerd.runhcs.v1.Options"), Json::object(), "/default/boot");
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_EQ(o->memoryMB, 1536u);
  EXPECT_EQ(o->processors, 2u);
  EXPECT_EQ(o->bootFilesPath, "/opt/boot # not a comment");
  auto parsed = parseRunhcsOptionsFile("SandboxIsolation = 1\nSandboxPlatform = \"linux/amd64\"\n", "f");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->sandbox_isolation(), containerd::runhcs::v1::Options::HYPERVISOR);
  EXPECT_EQ(parsed->sandbox_platform(), "linux/amd64");
}

TEST(VmOptionsTest, ABadRuntimeOptionsFileNamesTheLine) {
  EXPECT_THAT(vmOptions("t", generic("/nonexistent/runhcs.toml"), Json::object(), "/b"),
              StatusIs(Code::kInvalidArgument, "cannot read ConfigPath /nonexistent/runhcs.toml"));
  EXPECT_THAT(vmOptions("t", generic(""), Json::object(), "/b"), StatusIs(Code::kInvalidArgument, "without a ConfigPath"));
  std::string ok = writeFile("ok.toml", "Debug = true\n");
  EXPECT_THAT(vmOptions("t", generic(ok, "io.containerd.runc.v1.Options"), Json::object(), "/b"),
              StatusIs(Code::kInvalidArgument, "is not containerd.runhcs.v1.Options"));
  hcsshim::protobuf::Any garbage;
  garbage.set_type_url("runtimeoptions.v1.Options");
  garbage.set_value("\xff\xff\xff");
  EXPECT_THAT(vmOptions("t", garbage, Json::object(), "/b"), StatusIs(Code::kInvalidArgument, "does not decode"));
  EXPECT_THAT(parseRunhcsOptionsFile("Debug = true\nVmMemorySizeInMb = \"lots\"\n", "f"),
              StatusIs(Code::kInvalidArgument, "f line 2: VmMemorySizeInMb: want an integer"));
  EXPECT_THAT(parseRunhcsOptionsFile("Colour = 3\n", "f"), StatusIs(Code::kInvalidArgument, "not a containerd.runhcs.v1.Options field"));
  EXPECT_THAT(parseRunhcsOptionsFile("[options]\n", "f"), StatusIs(Code::kInvalidArgument, "tables are not supported"));
  EXPECT_THAT(parseRunhcsOptionsFile("Debug\n", "f"), StatusIs(Code::kInvalidArgument, "want key = value"));
  EXPECT_THAT(parseRunhcsOptionsFile("LogLevel = \"unterminated\n", "f"), StatusIs(Code::kInvalidArgument, "want a \"string\""));
  EXPECT_THAT(parseRunhcsOptionsFile("VmProcessorCount = 99999999999\n", "f"), StatusIs(Code::kInvalidArgument, "VmProcessorCount"));
  EXPECT_THAT(parseRunhcsOptionsFile("DefaultContainerAnnotations = 1\n", "f"), StatusIs(Code::kUnimplemented, "a map"));
  std::string binary(64, '\0');
  EXPECT_FALSE(parseRunhcsOptionsFile(binary, "f").ok());
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

namespace hcsshim::shim {
namespace {

// containerd's CRI on Linux names a pod's network by a host netns path; in
// a utility VM that stands for the HCN namespace the runhcs CNI plugin made
// under hns::namespaceForNetns(path), and never reaches the guest.
TEST(VmOptionsTest, AHostNetnsPathStandsForItsHcnNamespace) {
  const std::string netns = "/var/run/netns/cni-6f1c2a4e-0d3b-4c1e-9a77-2b6f3c8d9e10";
  Json spec = {{"linux", {{"namespaces", {{{"type", "pid"}}, {{"type", "network"}, {"path", netns}}}}}}};
  auto ns = networkNamespaceOf(spec);
  ASSERT_TRUE(ns.ok()) << ns.status().toString();
  EXPECT_EQ(*ns, hns::namespaceForNetns(netns));
  EXPECT_EQ(ns->size(), 36u);
  EXPECT_EQ((*ns)[14], '5') << "a name-based (version 5) GUID";
  EXPECT_NE(hns::namespaceForNetns(netns + "x"), *ns);
  // The same id in the Windows field agrees; another does not.
  spec["windows"]["network"]["networkNamespace"] = *ns;
  EXPECT_TRUE(networkNamespaceOf(spec).ok());
  spec["windows"]["network"]["networkNamespace"] = "0badc0de-0000-4000-8000-00000000beef";
  EXPECT_THAT(networkNamespaceOf(spec), StatusIs(Code::kInvalidArgument, "disagree"));

  Json guest = {{"linux",
                 {{"namespaces",
                   {{{"type", "network"}, {"path", netns}},
                    {{"type", "ipc"}, {"path", "/proc/41/ns/ipc"}},
                    {{"type", "uts"}, {"path", "/proc/41/ns/uts"}},
                    {{"type", "mount"}}}}}}};
  ASSERT_TRUE(guestNamespaces(guest).ok());
  // A container of the pod joins the sandbox's network by the sandbox
  // process's namespace - a guest path: no HCN namespace of its own, kept.
  Json podContainer = {{"linux", {{"namespaces", {{{"type", "network"}, {"path", "/proc/41/ns/net"}}}}}}};
  EXPECT_EQ(*networkNamespaceOf(podContainer), "");
  ASSERT_TRUE(guestNamespaces(podContainer).ok());
  EXPECT_EQ(podContainer["linux"]["namespaces"][0]["path"], "/proc/41/ns/net");
  EXPECT_FALSE(guest["linux"]["namespaces"][0].contains("path")) << "the host path never reaches the guest";
  EXPECT_EQ(guest["linux"]["namespaces"][1]["path"], "/proc/41/ns/ipc");
}

TEST(VmOptionsTest, OtherHostNamespacePathsAreRefused) {
  for (const char* path : {"/var/run/ipcns/pod1", "/proc/self/ns/ipc", "/proc/41/ns/../../1/ns/ipc", "/proc//ns/ipc",
                           "/proc/41/ns/", "relative/ns"}) {
    Json spec = {{"linux", {{"namespaces", {{{"type", "ipc"}, {"path", path}}}}}}};
    EXPECT_THAT(guestNamespaces(spec), StatusIs(Code::kInvalidArgument, "is a host path")) << path;
  }
  Json notArray = {{"linux", {{"namespaces", "network"}}}};
  EXPECT_THAT(guestNamespaces(notArray), StatusIs(Code::kInvalidArgument, "want an array"));
  EXPECT_THAT(networkNamespaceOf(notArray), StatusIs(Code::kInvalidArgument, "want an array"));
  Json badType = {{"linux", {{"namespaces", {{{"type", 5}}}}}}};
  EXPECT_THAT(guestNamespaces(badType), StatusIs(Code::kInvalidArgument, "string type"));
  Json badPath = {{"linux", {{"namespaces", {{{"type", "network"}, {"path", 7}}}}}}};
  EXPECT_THAT(networkNamespaceOf(badPath), StatusIs(Code::kInvalidArgument, "want a string"));
}

}  // namespace
}  // namespace hcsshim::shim
