// The guest agent's handlers against a fake container runtime, driven by
// the host's GuestConnection over a simulated vsock on virtual time:
// container lifecycle, runtime errors with runc's message, unknown ids,
// hostile paths, the host shutting the VM down.
#include "gcs/agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "gcs/testing/fake_runtime.h"
#include "sim/node.h"
#include "sim/run.h"
#include "sim/world.h"
#include "src/bridge/guest_connection.h"
#include "src/common/status_matchers.h"

namespace hcsshim::gcs {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using ::testing::HasSubstr;
using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

class PrefixVsock final : public bridge::VsockHost {
 public:
  PrefixVsock(runtime::Transport& t, std::string p) : t_(t), p_(std::move(p)) {}
  StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t port) override { return t_.listen(p_ + std::to_string(port)); }

 private:
  runtime::Transport& t_;
  std::string p_;
};

class AgentTest : public ::testing::Test {
 protected:
  AgentTest()
      : world_(3),
        host_(world_.addNode("host")),
        guest_(world_.addNode("guest")),
        vsock_(host_.transport(), "unix:///run/vm_"),
        dialer_(guest_.transport(), "unix:///run/vm_"),
        containers_(guest_, "unix:///run/guest-stdio-") {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/fs/run");
    fs::create_directories(dir_ + "/shares/s0");
    agent_ = std::make_unique<Agent>(guest_, dialer_, containers_, mounter_,
                                     AgentOptions{.stateDir = dir_ + "/state",
                                                  .mountRoots = {"/run"},
                                                  .plan9Root = dir_ + "/shares",
                                                  .cgroupRoot = dir_ + "/cgroup",
                                                  .fsRoot = dir_ + "/fs"});
    auto l = vsock_.listen(bridge::kBridgePort);
    EXPECT_THAT(l, IsOk());
    bridgeListener_ = std::move(*l);
    runtime::spawn([](Agent& a, bool& done) -> Task<void> {
      co_await a.run();
      done = true;
    }(*agent_, agentDone_));
    auto gc = run(bridge::GuestConnection::accept(host_.loop(), *bridgeListener_, vsock_, "vm1"));
    EXPECT_THAT(gc, IsOk());
    if (gc.ok()) host_conn_ = std::move(*gc);
  }
  ~AgentTest() override {
    host_conn_.reset();
    agent_->stop();
    world_.runUntil([&] { return agentDone_; });
  }

  template <typename T>
  T run(Task<T> t) {
    return sim::run(world_, std::move(t));
  }


  // prepare: a container's layers combined and the container created, as
  // the host does it (init not yet started).
  Status prepare(const std::string& id, std::vector<std::string> args) {
    std::string share = "/run/layers/" + id;
    bridge::ModifyRequest md{.resourceType = bridge::resource::kMappedDirectory, .requestType = "Add",
                             .settings = {{"MountPath", share}, {"ShareName", "s0"}, {"Port", 564}, {"ReadOnly", true}}};
    HCS_RETURN_IF_ERROR(run(host_conn_->modifySettings(std::string(bridge::kUvmContainerId), md)));
    bridge::CombinedLayers cl;
    cl.containerId = id;
    cl.containerRootPath = "/run/c/" + id + "/rootfs";
    cl.layers = {bridge::Layer{share, {}}};
    cl.scratchPath = "/run/c/" + id + "/scratch";
    bridge::ModifyRequest combine{.resourceType = bridge::resource::kCombinedLayers, .requestType = "Add",
                                  .settings = schema::encode(cl)};
    HCS_RETURN_IF_ERROR(run(host_conn_->modifySettings(id, combine)));
    bridge::ContainerConfig config;
    config.ociSpecification = {{"ociVersion", "1.0.2"},
                               {"process", {{"args", args}, {"cwd", "/"}}},
                               {"root", {{"path", cl.containerRootPath}}},
                               {"linux", Json::object()}};
    HCS_RETURN_IF_ERROR(run(host_conn_->createContainer(id, config)));
    return run(host_conn_->startContainer(id));
  }

  sim::World world_;
  sim::Node& host_;
  sim::Node& guest_;
  PrefixVsock vsock_;
  PrefixDialer dialer_;
  FakeContainerRuntime containers_;
  FakeMounter mounter_;
  std::string dir_;
  std::unique_ptr<Agent> agent_;
  bool agentDone_ = false;
  std::unique_ptr<runtime::Listener> bridgeListener_;
  std::unique_ptr<bridge::GuestConnection> host_conn_;
};

TEST_F(AgentTest, AContainerRunsAndExitsThroughTheBridge) {
  ASSERT_THAT(prepare("c1", {"echo", "from", "the", "guest"}), IsOk());
  EXPECT_FALSE(containers_.exists("c1")) << "the runtime creates it when the init is started";
  EXPECT_EQ(mounter_.mounted().count(dir_ + "/fs/run/c/c1/rootfs"), 1u) << "the combined layers are mounted";
  auto p = run(host_conn_->executeProcess("c1", {}, {.out = true}));
  ASSERT_THAT(p, IsOk());
  auto out = run(runtime::readToEnd(*(*p)->stdoutStream()));
  EXPECT_EQ(*out, "from the guest\n");
  auto code = run((*p)->wait());
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0u);
  auto exit = run(host_conn_->waitForExit("c1"));
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->result, 0);
  ASSERT_THAT(run(host_conn_->deleteContainerState("c1")), IsOk());
  EXPECT_FALSE(containers_.exists("c1")) << "the runtime's state went with it";
}

TEST_F(AgentTest, SignalsReachTheProcessAndItsExitCodeReturns) {
  ASSERT_THAT(prepare("c1", {"sleep"}), IsOk());
  auto init = run(host_conn_->executeProcess("c1", {}, {}));
  ASSERT_THAT(init, IsOk());
  bridge::ProcessParameters pp;
  pp.ociProcess = {{"args", {"sleep"}}, {"cwd", "/"}};
  auto execd = run(host_conn_->executeProcess("c1", pp, {}));
  ASSERT_THAT(execd, IsOk());
  ASSERT_THAT(run((*execd)->signal(SIGTERM)), IsOk());
  EXPECT_EQ(*run((*execd)->wait()), 128u + SIGTERM);
  EXPECT_THAT(run((*execd)->signal(SIGTERM)), HResultIs(hr::kElementNotFound)) << "it has exited";
  ASSERT_THAT(run((*init)->signal(0)), IsOk()) << "0 is SIGKILL on the bridge";
  EXPECT_EQ(*run((*init)->wait()), 137u);
}

// A console size of the wrong type in the host's OCI process is ignored (the
// default size), not a crash of the agent.
TEST_F(AgentTest, AConsoleSizeOfTheWrongTypeIsIgnored) {
  ASSERT_THAT(prepare("c1", {"sleep"}), IsOk());
  auto init = run(host_conn_->executeProcess("c1", {}, {}));
  ASSERT_THAT(init, IsOk());
  bridge::ProcessParameters pp;
  pp.emulateConsole = true;
  pp.ociProcess = {{"args", {"true"}}, {"cwd", "/"}, {"terminal", true},
                   {"consoleSize", {{"height", "tall"}, {"width", Json::array()}}}};
  auto execd = run(host_conn_->executeProcess("c1", pp, {}));
  ASSERT_THAT(execd, IsOk());
  EXPECT_EQ(*run((*execd)->wait()), 0u);
  ASSERT_THAT(run((*init)->signal(0)), IsOk());
}

TEST_F(AgentTest, RuntimeErrorsCarryRuncsMessage) {
  ASSERT_THAT(prepare("c1", {"sleep"}), IsOk());
  auto init = run(host_conn_->executeProcess("c1", {}, {}));
  ASSERT_THAT(init, IsOk());
  bridge::ProcessParameters pp;
  pp.ociProcess = {{"args", {"/no/such/binary"}}, {"cwd", "/"}};
  auto execd = run(host_conn_->executeProcess("c1", pp, {}));
  EXPECT_FALSE(execd.ok());
  EXPECT_THAT(execd.status().message(), HasSubstr("executable file not found"));
  (void)run((*init)->signal(0));
}

// Unknown containers are HCS_E_SYSTEM_NOT_FOUND (as hcsshim's guest answers),
// unknown processes ERROR_NOT_FOUND.
TEST_F(AgentTest, UnknownIdsAreNotFound) {
  EXPECT_THAT(run(host_conn_->startContainer("nope")), HResultIs(hr::kHcsSystemNotFound));
  EXPECT_THAT(run(host_conn_->executeProcess("nope", {}, {})), HResultIs(hr::kHcsSystemNotFound));
  EXPECT_THAT(run(host_conn_->deleteContainerState("nope")), HResultIs(hr::kHcsSystemNotFound));
  Json signal = {{"ProcessId", 4242}, {"Options", {{"Signal", 9}}}};
  EXPECT_THAT(run(host_conn_->request(bridge::msg::kSignalProcess, "nope", signal)), HResultIs(hr::kElementNotFound));
}

TEST_F(AgentTest, PathsOutsideTheMountRootsAreRefused) {
  bridge::ModifyRequest md{.resourceType = bridge::resource::kMappedDirectory, .requestType = "Add",
                           .settings = {{"MountPath", "/etc/../etc/passwd"}, {"ShareName", "s0"}, {"Port", 564}}};
  auto st = run(host_conn_->modifySettings(std::string(bridge::kUvmContainerId), md));
  EXPECT_THAT(st, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(st.message(), HasSubstr("Settings.MountPath"));
  md.settings["MountPath"] = "/etc/shadow-dir";
  EXPECT_THAT(run(host_conn_->modifySettings(std::string(bridge::kUvmContainerId), md)), HResultIs(hr::kInvalidArg));
  EXPECT_TRUE(mounter_.mounted().empty()) << "nothing was mounted";
}

TEST_F(AgentTest, TheHostShuttingTheVmDownEndsTheAgent) {
  ASSERT_THAT(prepare("c1", {"sleep"}), IsOk());
  (void)run(host_conn_->executeProcess("c1", {}, {}));
  (void)run(host_conn_->shutdownContainer(std::string(bridge::kUvmContainerId), false));
  EXPECT_TRUE(world_.runUntil([&] { return agentDone_; }));
  EXPECT_TRUE(agent_->shutdownRequested());
  EXPECT_FALSE(containers_.exists("c1")) << "its containers were shut down and removed";
}

}  // namespace
}  // namespace hcsshim::gcs
