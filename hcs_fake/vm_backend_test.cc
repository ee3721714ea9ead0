// The VmBackend seam, with the fake HCS running inside the deterministic
// simulator: calls reach the backend in lifecycle order, a refused device
// change leaves the document untouched, and a guest that dies on its own is
// reported as SystemExited / UnexpectedExit.
#include "hcs_fake/vm_backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hcs_fake/service.h"
#include "hcs_fake/sim_backend.h"
#include "sim/node.h"
#include "src/common/status_matchers.h"
#include "src/hcs/compute_system.h"

namespace hcsshim::hcs_fake {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using runtime::Task;

class RecordingBackend final : public VmBackend {
 public:
  std::vector<std::string> calls;
  bool refuseModify = false;
  std::string name() const override { return "recording"; }
  Task<Status> start(const std::string& id, const schema::VirtualMachine& vm) override {
    calls.push_back("start " + id + " mem=" + std::to_string(*vm.computeTopology->memory->sizeInMB));
    co_return OkStatus();
  }
  Task<Status> stop(const std::string& id, bool graceful) override {
    calls.push_back(std::string(graceful ? "shutdown " : "terminate ") + id);
    co_return OkStatus();
  }
  Task<Status> pause(const std::string& id) override {
    calls.push_back("pause " + id);
    co_return OkStatus();
  }
  Task<Status> resume(const std::string& id) override {
    calls.push_back("resume " + id);
    co_return OkStatus();
  }
  Task<Status> modify(const std::string& id, const schema::ModifySettingRequest& r) override {
    calls.push_back("modify " + id + " " + r.resourcePath.value_or("guest"));
    if (refuseModify) co_return Status::fromHResult(hresult::kHcsGuestCriticalError, "", "", "guest refused");
    co_return OkStatus();
  }
  Task<StatusOr<hcs::CreatedProcess>> createProcess(const std::string& id, const schema::ProcessParameters& p) override {
    calls.push_back("exec " + id + " " + p.commandArgs.at(0));
    hcs::CreatedProcess cp;
    cp.pid = 4242;
    co_return cp;
  }
  Task<Status> signalProcess(const std::string& id, uint32_t pid, int sig) override {
    calls.push_back("signal " + id + "/" + std::to_string(pid) + " " + std::to_string(sig));
    // The guest reports the exit a moment later.
    onProcessExit_(id, pid, 128 + sig);
    co_return OkStatus();
  }
  void die(const std::string& id) { onExit_(id, hresult::kHcsUnexpectedExit); }
};

class VmBackendTest : public ::testing::Test {
 protected:
  VmBackendTest() : world_(sim::seedFromEnv(5)), node_(world_.addNode("hcs")) {
    auto b = std::make_unique<RecordingBackend>();
    backend_ = b.get();
    service_ = std::make_unique<FakeHcsService>(node_, std::move(b));
    api_ = std::make_unique<InProcessHcs>(*service_);
    char tmpl[] = "/tmp/hcs-vmb-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/vmlinux") << "k";
    std::ofstream(dir_ + "/disk") << "d";
  }
  ~VmBackendTest() override { std::filesystem::remove_all(dir_); }
  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(node_.loop(), std::move(t));
  }
  std::string vmDoc() {
    return R"({"VirtualMachine":{"Chipset":{"LinuxKernelDirect":{"KernelFilePath":")" + dir_ +
           R"(/vmlinux"}},"ComputeTopology":{"Memory":{"SizeInMB":256}},"Devices":{"Scsi":{"c0":{"Attachments":{}}}}}})";
  }
  sim::World world_;
  sim::Node& node_;
  RecordingBackend* backend_;
  std::unique_ptr<FakeHcsService> service_;
  std::unique_ptr<InProcessHcs> api_;
  std::string dir_;
};

TEST_F(VmBackendTest, LifecycleReachesTheBackendInOrder) {
  auto vm = run(hcs::ComputeSystem::create(*api_, node_.loop(), "vm", vmDoc()));
  ASSERT_THAT(vm, IsOk());
  ASSERT_THAT(run((*vm)->start()), IsOk());
  ASSERT_THAT(run((*vm)->pause()), IsOk());
  ASSERT_THAT(run((*vm)->resume()), IsOk());
  schema::ProcessParameters pp;
  pp.commandArgs = {"/bin/gcs-test"};
  auto p = run((*vm)->createProcess(pp));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ((*p)->pid(), 4242u);
  EXPECT_EQ((*p)->exitCode(), -1);
  ASSERT_THAT(run((*p)->signal(15)), IsOk());
  EXPECT_EQ(run((*p)->wait()), 143) << "the guest's exit report becomes ProcessExited";
  EXPECT_THAT(run((*p)->signal(15)), HResultIs(hresult::kHcsProcessAlreadyStopped));
  ASSERT_THAT(run((*vm)->terminate()), IsOk());
  EXPECT_EQ(backend_->calls, (std::vector<std::string>{"start vm mem=256", "pause vm", "resume vm",
                                                        "exec vm /bin/gcs-test", "signal vm/4242 15", "terminate vm"}));
}

TEST_F(VmBackendTest, RefusedModifyChangesNothing) {
  auto vm = std::move(*run(hcs::ComputeSystem::create(*api_, node_.loop(), "vm", vmDoc())));
  ASSERT_THAT(run(vm->start()), IsOk());
  schema::ModifySettingRequest add;
  add.resourcePath = "VirtualMachine/Devices/Scsi/c0/Attachments/0";
  add.requestType = "Add";
  add.settings = {{"Type", "VirtualDisk"}, {"Path", dir_ + "/disk"}};
  backend_->refuseModify = true;
  EXPECT_THAT(run(vm->modify(add)), HResultIs(hresult::kHcsGuestCriticalError));
  backend_->refuseModify = false;
  EXPECT_THAT(run(vm->modify(add)), IsOk()) << "LUN 0 is still free: the refused add was rolled back";
  ASSERT_THAT(run(vm->terminate()), IsOk());
}

TEST_F(VmBackendTest, GuestDeathIsAnUnexpectedExit) {
  auto vm = std::move(*run(hcs::ComputeSystem::create(*api_, node_.loop(), "vm", vmDoc())));
  ASSERT_THAT(run(vm->start()), IsOk());
  backend_->die("vm");
  hcs::SystemExit exit = run(vm->wait());
  EXPECT_EQ(exit.exitType, "UnexpectedExit");
  EXPECT_EQ(exit.status, hresult::kHcsUnexpectedExit);
  EXPECT_THAT(run(vm->pause()), HResultIs(hresult::kHcsInvalidState));
}

TEST_F(VmBackendTest, WithoutABackendGuestWorkIsNotImplemented) {
  FakeHcsService plain(node_);
  InProcessHcs api(plain);
  auto vm = std::move(*run(hcs::ComputeSystem::create(api, node_.loop(), "vm2", vmDoc())));
  ASSERT_THAT(run(vm->start()), IsOk());
  schema::ProcessParameters pp;
  pp.commandArgs = {"true"};
  auto p = run(vm->createProcess(pp));
  EXPECT_THAT(p, HResultIs(hresult::kNotImpl));
  EXPECT_THAT(p.status().message(), ::testing::HasSubstr("no VM backend"));
  schema::ModifySettingRequest guestOnly;
  guestOnly.guestRequest = {{"ResourceType", "MappedVirtualDisk"}, {"RequestType", "Add"}};
  EXPECT_THAT(run(vm->modify(guestOnly)), HResultIs(hresult::kNotImpl));
  ASSERT_THAT(run(vm->terminate()), IsOk());
}

// The sim backend's guest finds a document's own disks and VPMem devices
// where it finds hot-added ones; keys that are not device numbers (a path
// in disguise) are refused before anything is linked.
TEST(LinkDocumentDevicesTest, DocumentDevicesAreLinkedAndHostileKeysRefused) {
  char tmpl[] = "/tmp/hcs-docdev-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/disk.vhd") << "d";
  std::ofstream(dir + "/layer.vhd") << "l";
  auto doc = [&](const std::string& lun, const std::string& pmem) {
    auto d = schema::decode<schema::VirtualMachine>(std::string_view(
        R"({"Devices":{"Scsi":{"df6d0690-79e5-55b6-a5ec-c1e2f77f580a":{"Attachments":{")" + lun + R"(":{"Path":")" + dir +
        R"(/disk.vhd"}}}},"VirtualPMem":{"Devices":{")" + pmem + R"(":{"HostPath":")" + dir + R"(/layer.vhd"}}}}})"));
    EXPECT_THAT(d.status(), IsOk());
    return *d;
  };
  ASSERT_THAT(linkDocumentDevices(dir + "/vm", "vm", doc("2", "3")), IsOk());
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/vm/scsi/0/2"), dir + "/disk.vhd");
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/vm/pmem/3"), dir + "/layer.vhd");
  auto lun = linkDocumentDevices(dir + "/vm2", "vm2", doc("../../escape", "0"));
  EXPECT_THAT(lun, HResultIs(hresult::kInvalidArg));
  EXPECT_THAT(lun.message(), ::testing::HasSubstr("Attachments.../../escape"));
  auto pmem = linkDocumentDevices(dir + "/vm3", "vm3", doc("0", "128"));
  EXPECT_THAT(pmem, HResultIs(hresult::kInvalidArg));
  EXPECT_THAT(pmem.message(), ::testing::HasSubstr("VirtualPMem.Devices.128"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/escape"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/vm2"));
  auto bad = schema::decode<schema::VirtualMachine>(std::string_view(
      R"({"Devices":{"Scsi":{"c0":{"Attachments":{"0":{"Path":"/x"}}}}}})"));
  ASSERT_THAT(bad.status(), IsOk());
  EXPECT_THAT(linkDocumentDevices(dir + "/vm4", "vm4", *bad), HResultIs(hresult::kInvalidArg));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hcsshim::hcs_fake
