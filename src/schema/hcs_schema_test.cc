#include "src/schema/hcs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim::schema {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

// Shaped like the LCOW utility VM document hcsshim sends.
constexpr char kLcowDoc[] = R"json({
  "Owner": "containerd-shim-runhcs-v1.exe",
  "SchemaVersion": {"Major": 2, "Minor": 1},
  "ShouldTerminateOnLastHandleClosed": true,
  "VirtualMachine": {
    "StopOnReset": true,
    "Chipset": {"LinuxKernelDirect": {"KernelFilePath": "/boot/vmlinux", "InitRdPath": "/boot/initrd.img",
                                      "KernelCmdLine": "panic=-1 quiet pci=off nr_cpus=2"}},
    "ComputeTopology": {"Memory": {"SizeInMB": 1024, "AllowOvercommit": true},
                        "Processor": {"Count": 2}},
    "Devices": {
      "Scsi": {"df6d0690-79e5-55b6-a5ec-c1e2f77f580a": {"Attachments": {"0": {"Type": "VirtualDisk",
                                                                              "Path": "/var/scratch.vhdx"}}}},
      "VirtualPMem": {"MaximumCount": 64, "MaximumSizeBytes": 4294967296,
                      "Devices": {"0": {"HostPath": "/layers/0.vhd", "ReadOnly": true, "ImageFormat": "Vhd1"}}},
      "HvSocket": {"HvSocketConfig": {"DefaultBindSecurityDescriptor": "D:P(A;;FA;;;SY)",
                                      "ServiceTable": {"0000006d-facb-11e6-bd58-64006a7986d3": {"AllowWildcardBinds": true}}}},
      "Plan9": {"Shares": [{"Name": "s1", "AccessName": "s1", "Path": "/host/dir", "Port": 564, "Flags": 1}]}
    },
    "GuestConnection": {"UseVsock": true, "UseConnectedSuspend": true}
  }
})json";

TEST(HcsSchemaTest, LcowDocumentRoundTrips) {
  auto cs = decode<ComputeSystem>(std::string_view(kLcowDoc));
  ASSERT_THAT(cs, IsOk());
  ASSERT_TRUE(cs->virtualMachine);
  const auto& vm = *cs->virtualMachine;
  EXPECT_EQ(*vm.chipset->linuxKernelDirect->kernelFilePath, "/boot/vmlinux");
  EXPECT_EQ(*vm.computeTopology->memory->sizeInMB, 1024u);
  EXPECT_EQ(*vm.computeTopology->processor->count, 2u);
  EXPECT_EQ(*vm.devices->scsi.at("df6d0690-79e5-55b6-a5ec-c1e2f77f580a").attachments.at("0").path,
            "/var/scratch.vhdx");
  EXPECT_EQ(*vm.devices->virtualPMem->maximumSizeBytes, 4294967296u);
  EXPECT_EQ(*vm.devices->plan9->shares[0].port, 564);
  EXPECT_TRUE(*vm.devices->hvSocket->hvSocketConfig->serviceTable.begin()->second.allowWildcardBinds);
  EXPECT_TRUE(*cs->shouldTerminateOnLastHandleClosed);
  // Encoding gives back the same JSON value.
  EXPECT_EQ(encode(*cs), *parseJson(kLcowDoc));
}

TEST(HcsSchemaTest, UnknownFieldsArePreserved) {
  auto cs = decode<ComputeSystem>(
      std::string_view(R"({"Owner":"x","FutureField":{"a":1},"VirtualMachine":{"NewThing":[1,2],"StopOnReset":false}})"));
  ASSERT_THAT(cs, IsOk());
  EXPECT_EQ(cs->extra["FutureField"]["a"], 1);
  Json out = encode(*cs);
  EXPECT_EQ(out["FutureField"]["a"], 1);
  EXPECT_EQ(out["VirtualMachine"]["NewThing"], Json::array({1, 2}));
  EXPECT_EQ(out["VirtualMachine"]["StopOnReset"], false) << "an explicit false survives";
}

TEST(HcsSchemaTest, WrongTypesNameTheFieldPath) {
  EXPECT_THAT(decode<ComputeSystem>(std::string_view(R"({"VirtualMachine":{"ComputeTopology":{"Memory":{"SizeInMB":"1024"}}}})")),
              StatusIs(Code::kInvalidArgument,
                       "VirtualMachine.ComputeTopology.Memory.SizeInMB: want unsigned integer, got string"));
  EXPECT_THAT(decode<ComputeSystem>(std::string_view(R"({"Owner":42})")),
              StatusIs(Code::kInvalidArgument, "Owner: want string, got number"));
  EXPECT_THAT(decode<ProcessParameters>(std::string_view(R"({"CommandArgs":["sh",7]})")),
              StatusIs(Code::kInvalidArgument, "CommandArgs[1]: want string, got number"));
  EXPECT_THAT(decode<ProcessParameters>(std::string_view(R"({"ConsoleSize":[25,70000]})")),
              StatusIs(Code::kInvalidArgument, "ConsoleSize[1]: 70000 is out of range"));
  EXPECT_THAT(decode<ComputeSystem>(std::string_view(R"({"VirtualMachine":{"Devices":{"Scsi":{"c":{"Attachments":{"0":{"ReadOnly":"yes"}}}}}}})")),
              StatusIs(Code::kInvalidArgument, "VirtualMachine.Devices.Scsi.c.Attachments.0.ReadOnly: want boolean"));
  EXPECT_THAT(decode<ComputeSystem>(std::string_view("[1]")), StatusIs(Code::kInvalidArgument, "document: want object"));
  EXPECT_THAT(decode<ComputeSystem>(std::string_view("{\"Owner\":")), StatusIs(Code::kInvalidArgument, "invalid JSON at byte"));
}

TEST(HcsSchemaTest, NullMeansAbsent) {
  auto p = decode<ProcessParameters>(std::string_view(R"({"CommandLine":null,"Environment":null})"));
  ASSERT_THAT(p, IsOk());
  EXPECT_FALSE(p->commandLine);
  EXPECT_TRUE(p->environment.empty());
  EXPECT_EQ(encode(*p), Json::object());
}

TEST(HcsSchemaTest, ResultDocumentCarriesHResultAndMessage) {
  Status s = Status::fromHResult(hresult::kHcsInvalidState, "Start", "vm1", "system is running");
  std::string doc = resultDocument(s);
  auto r = decode<ResultError>(std::string_view(doc));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(static_cast<uint32_t>(*r->error), 0x80370105u);
  EXPECT_EQ(*r->errorMessage, "system is running");
  ASSERT_EQ(r->errorEvents.size(), 1u);
  Status back = statusFromResult(hresult::kHcsInvalidState, doc, "Start", "vm1");
  EXPECT_EQ(back.hresult(), hresult::kHcsInvalidState);
  EXPECT_EQ(back.message(), "system is running");
  EXPECT_EQ(back.code(), Code::kFailedPrecondition);
  EXPECT_EQ(resultDocument(OkStatus()), "");
  EXPECT_EQ(statusFromResult(hresult::kHcsSystemNotFound, "", "Open", "x").message(), "HCS_E_SYSTEM_NOT_FOUND");
}

TEST(HcsSchemaTest, PropertiesEncodeLikeHcs) {
  Properties p;
  p.id = "c1";
  p.systemType = "Container";
  p.state = "Running";
  ProcessDetails d;
  d.processId = 42;
  d.imageName = "sh";
  p.processList.push_back(d);
  Json j = encode(p);
  EXPECT_EQ(j["Id"], "c1");
  EXPECT_EQ(j["ProcessList"][0]["ProcessId"], 42);
  EXPECT_FALSE(j.contains("Stopped"));
}

}  // namespace
}  // namespace hcsshim::schema
