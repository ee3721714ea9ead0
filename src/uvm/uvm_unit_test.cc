// UtilityVM against the in-process fake HCS and an in-process guest (the
// real agent with a fake container runtime), on the simulator's virtual
// time: boot, reference-counted devices, containers, the close order, a
// guest that dies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hcs_fake/testing/fake_host.h"
#include "sim/node.h"
#include "sim/run.h"
#include "sim/world.h"
#include "src/common/status_matchers.h"
#include "src/uvm/uvm.h"

namespace hcsshim::uvm {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

class UvmUnitTest : public ::testing::Test {
 protected:
  ~UvmUnitTest() override { vm_.reset(); }

  template <typename T>
  T run(Task<T> t) {
    return sim::run(world_, std::move(t));
  }
  void run(Task<void> t) { sim::run(world_, std::move(t)); }


  UtilityVM& boot(const std::string& id = "vm1") {
    LcowOptions o{.id = id, .bootFilesPath = dir_ + "/boot", .memoryMB = 512, .processors = 1};
    auto vm = run(UtilityVM::create(node_, *api_, guests_->vsockFor(id), o));
    EXPECT_THAT(vm, IsOk());
    vm_ = std::move(*vm);
    EXPECT_THAT(run(vm_->start()), IsOk());
    return *vm_;
  }

  // configuration: the fake HCS's view of the VM document (Modify applied).
  Json configuration(UtilityVM& vm) {
    auto p = run(vm.system().properties({schema::kConfigurationPropertyType}));
    EXPECT_THAT(p, IsOk());
    return p.ok() ? p->configuration : Json();
  }

  hcs_fake::FakeHost host_{11};
  sim::World& world_ = host_.world;
  sim::Node& node_ = host_.node;
  const std::string& dir_ = host_.dir;
  hcs_fake::InProcessGuestBackend* guests_ = host_.guests;
  std::unique_ptr<hcs_fake::InProcessHcs>& api_ = host_.api;
  std::unique_ptr<UtilityVM> vm_;
};

TEST_F(UvmUnitTest, BootsAndNegotiates) {
  UtilityVM& vm = boot();
  EXPECT_EQ(vm.guest().negotiated().version, 4u);
  EXPECT_EQ(guests_->running(), 1u);
  auto props = run(vm.system().properties());
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->state.value_or(""), "Running");
}

// A vsock host that, like AF_HYPERV's, must know the VM's RuntimeId before
// it can listen (bridge/hvsock_host.h); it listens through the in-process one.
class RuntimeIdVsock final : public bridge::VsockHost {
 public:
  RuntimeIdVsock(std::unique_ptr<bridge::VsockHost> inner, Status answer) : inner_(std::move(inner)), answer_(answer) {}
  bool needsRuntimeId() const override { return true; }
  Status bindToVm(const std::string& runtimeId) override {
    bound = runtimeId;
    return answer_;
  }
  StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) override {
    if (bound.empty()) return FailedPreconditionError("listen before bindToVm");
    return inner_->listen(port);
  }
  std::string bound;

 private:
  std::unique_ptr<bridge::VsockHost> inner_;
  Status answer_;
};

TEST_F(UvmUnitTest, AVsockThatNeedsTheRuntimeIdIsBoundToItBeforeListening) {
  LcowOptions o{.id = "vm-hv", .bootFilesPath = dir_ + "/boot", .memoryMB = 512, .processors = 1};
  auto vsock = std::make_unique<RuntimeIdVsock>(guests_->vsockFor("vm-hv"), OkStatus());
  RuntimeIdVsock* seen = vsock.get();
  auto vm = run(UtilityVM::create(node_, *api_, std::move(vsock), o));
  ASSERT_THAT(vm, IsOk());
  ASSERT_THAT(run((*vm)->start()), IsOk());
  auto props = run((*vm)->system().properties());
  ASSERT_THAT(props, IsOk());
  ASSERT_TRUE(props->runtimeId.has_value());
  EXPECT_EQ(seen->bound, *props->runtimeId);
  EXPECT_THAT(run((*vm)->close()), IsOk());
}

TEST_F(UvmUnitTest, ARuntimeIdTheVsockRefusesFailsStartNamingIt) {
  LcowOptions o{.id = "vm-hv-bad", .bootFilesPath = dir_ + "/boot", .memoryMB = 512, .processors = 1};
  auto vsock = std::make_unique<RuntimeIdVsock>(guests_->vsockFor("vm-hv-bad"), InvalidArgumentError("not a GUID"));
  auto vm = run(UtilityVM::create(node_, *api_, std::move(vsock), o));
  ASSERT_THAT(vm, IsOk());
  Status st = run((*vm)->start());
  EXPECT_THAT(st, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(st.toString(), HasSubstr("Start: vsock"));
  EXPECT_THAT(st.toString(), HasSubstr("not a GUID"));
  EXPECT_EQ(guests_->running(), 0u) << "no guest was started";
  (void)run((*vm)->close());
}

TEST_F(UvmUnitTest, DevicesAreReferenceCountedByHostPath) {
  UtilityVM& vm = boot();
  std::string disk = dir_ + "/disk.img", other = dir_ + "/other.img", share = dir_ + "/share";
  std::ofstream(disk) << "d";
  std::ofstream(other) << "o";
  fs::create_directories(share);
  auto a = run(vm.addScsi(disk, true));
  ASSERT_THAT(a, IsOk());
  auto again = run(vm.addScsi(disk, true));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->lun, a->lun) << "the same disk is attached once";
  EXPECT_EQ(again->guestPath, a->guestPath);
  auto b = run(vm.addScsi(other, true));
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(b->lun, a->lun);
  auto attachments = [&] {
    Json c = configuration(vm);
    size_t n = 0;
    for (auto& [guid, ctrl] : c["VirtualMachine"]["Devices"]["Scsi"].items()) {
      if (ctrl.contains("Attachments")) n += ctrl["Attachments"].size();
    }
    return n;
  };
  EXPECT_EQ(attachments(), 2u);
  ASSERT_THAT(run(vm.removeScsi(disk)), IsOk());
  EXPECT_EQ(attachments(), 2u) << "one reference is left";
  ASSERT_THAT(run(vm.removeScsi(disk)), IsOk());
  EXPECT_EQ(attachments(), 1u) << "the last reference unplugs it";
  EXPECT_FALSE(run(vm.removeScsi(disk)).ok()) << "no reference left to remove";
  auto p1 = run(vm.addPlan9(share, false));
  auto p2 = run(vm.addPlan9(share, false));
  ASSERT_THAT(p1, IsOk());
  ASSERT_THAT(p2, IsOk());
  EXPECT_EQ(*p1, *p2);
  EXPECT_EQ(configuration(vm)["VirtualMachine"]["Devices"]["Plan9"]["Shares"].size(), 1u);
  ASSERT_THAT(run(vm.removePlan9(share)), IsOk());
  ASSERT_THAT(run(vm.removePlan9(share)), IsOk());
  EXPECT_EQ(configuration(vm)["VirtualMachine"]["Devices"]["Plan9"].value("Shares", Json::array()).size(), 0u);
}

TEST_F(UvmUnitTest, AContainerRunsAndReportsItsExit) {
  UtilityVM& vm = boot();
  fs::create_directories(dir_ + "/rootfs");
  Json spec = {{"ociVersion", "1.0.2"}, {"process", {{"args", {"echo", "hello", "world"}}, {"cwd", "/"}}},
               {"root", {{"path", "rootfs"}}}, {"linux", Json::object()}};
  auto c = run(vm.createContainerOnShare("c1", dir_ + "/rootfs", spec));
  ASSERT_THAT(c, IsOk());
  auto p = run((*c)->start({}, {.out = true}));
  ASSERT_THAT(p, IsOk());
  auto out = run(runtime::readToEnd(*(*p)->stdoutStream()));
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, "hello world\n");
  auto code = run((*p)->wait());
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0u);
  EXPECT_THAT(run((*c)->remove()), IsOk());
}

// hcsshim's order: the VM is shut down through HCS while the bridge is up;
// the bridge closes after the exit. Closing twice is a no-op.
TEST_F(UvmUnitTest, CloseShutsDownThroughHcsBeforeHangingUp) {
  UtilityVM& vm = boot();
  ASSERT_THAT(run(vm.close()), IsOk());
  EXPECT_TRUE(guests_->bridgeUpAtShutdown("vm1")) << "the shutdown reached a guest whose bridge was still up";
  EXPECT_EQ(run(vm.waitExit()).exitType, "GracefulExit");
  EXPECT_TRUE(vm.guest().closed());
  EXPECT_EQ(guests_->running(), 0u);
  EXPECT_THAT(run(vm.close()), IsOk());
}

TEST_F(UvmUnitTest, AGuestThatDiesIsAnUnexpectedExitAndCallsFailCleanly) {
  UtilityVM& vm = boot();
  guests_->crash("vm1");
  hcs::SystemExit exit = run(vm.waitExit());
  EXPECT_EQ(exit.exitType, "UnexpectedExit");
  bridge::ProcessParameters pp;
  pp.commandArgs = {"true"};
  auto p = run(vm.exec(pp, {}));
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.status().id(), "vm1");
  EXPECT_THAT(run(vm.close()), IsOk());
}

TEST_F(UvmUnitTest, MissingBootFilesArePreciseErrors) {
  LcowOptions o{.id = "vm2", .bootFilesPath = dir_ + "/nowhere", .memoryMB = 512, .processors = 1};
  auto vm = run(UtilityVM::create(node_, *api_, guests_->vsockFor("vm2"), o));
  EXPECT_THAT(vm, HResultIs(hr::kFileNotFound));
  EXPECT_THAT(vm.status().message(), HasSubstr(dir_ + "/nowhere"));
}

// HCS answers a create only after the client's 4 min timeout: the system it
// made then belongs to nobody, so the client terminates it and closes the
// handle (as hcsshim terminates on a create timeout) - nothing is left in HCS.
TEST_F(UvmUnitTest, AVmCreatedAfterTheClientGaveUpIsTerminated) {
  int ops = 0;
  hcs_fake::ServiceFaults faults;
  faults.operationDelay = [&ops] { return ops++ == 0 ? runtime::Duration(std::chrono::hours(1)) : runtime::Duration(0); };
  host_.service->setFaults(faults);
  LcowOptions o{.id = "vm1", .bootFilesPath = dir_ + "/boot", .memoryMB = 512, .processors = 1};
  auto vm = run(UtilityVM::create(node_, *api_, guests_->vsockFor("vm1"), o));
  EXPECT_THAT(vm, HResultIs(hr::kHcsOperationTimeout));
  world_.runFor(std::chrono::hours(2));
  EXPECT_GE(ops, 2) << "the late system was never terminated";
  EXPECT_EQ(host_.service->systemCount(), 0u) << "the system created after the timeout was left in HCS";
  host_.service->setFaults({});  // the hook refers to this frame
}

}  // namespace
}  // namespace hcsshim::uvm
