// The shim's task model against the in-process fake HCS and an in-process
// guest (the real agent, a fake container runtime), on the simulator's
// virtual time: legal and illegal transitions, containerd's event order,
// exactly one exit per process, a paused task that makes no progress.
#include "src/shim/task_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gcs/network.h"
#include "hcs_fake/testing/fake_host.h"
#include "sim/node.h"
#include "sim/run.h"
#include "sim/world.h"
#include "src/common/status_matchers.h"
#include "src/containerd/api/events.pb.h"
#include "src/hcs/compute_system.h"
#include "src/hns/hcn.h"
#include "src/shim/testing/sim_platform.h"
#include "src/shim/vm_options.h"

namespace hcsshim::shim {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using ::testing::ElementsAre;
using runtime::Task;
using testing::MemoryStdio;
using testing::RecordingSink;
using testing::TestPlatform;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

class TaskModelTest : public ::testing::Test {
 protected:
  TaskModelTest() {
    platform_ = std::make_unique<TestPlatform>(*guests_);
    model_ = std::make_unique<TaskModel>(node_, *api_, events_, *platform_,
                                         ShimConfig{.ns = "default", .defaultBootFiles = dir_ + "/boot"});
  }
  ~TaskModelTest() override {
    run(model_->closeAll());
    model_.reset();
  }

  template <typename T>
  T run(Task<T> t) {
    return sim::run(world_, std::move(t));
  }
  void run(Task<void> t) { sim::run(world_, std::move(t)); }

  // settle: run the world for a while of virtual time.
  void settle(runtime::Duration d = 1s) { world_.runFor(d); }

  // bundle: a rootfs and a config.json running args (`extra` merged into the spec).
  std::string bundle(const std::string& id, std::vector<std::string> args, const Json& extra = Json::object()) {
    std::string b = dir_ + "/bundles/" + id;
    fs::create_directories(b + "/rootfs");
    Json spec = {{"ociVersion", "1.0.2"}, {"process", {{"args", args}, {"cwd", "/"}}}, {"root", {{"path", "rootfs"}}},
                 {"linux", Json::object()}};
    spec.merge_patch(extra);
    std::ofstream(b + "/config.json") << jsonText(spec);
    return b;
  }
  Status create(const std::string& id, std::vector<std::string> args, const Json& extra = Json::object()) {
    taskv2::CreateTaskRequest req;
    req.set_id(id);
    req.set_bundle(bundle(id, std::move(args), extra));
    req.set_stdout("mem://" + id);
    return run(model_->create(req)).status();
  }
  StatusOr<uint32_t> start(const std::string& id, const std::string& exec = "") {
    taskv2::StartRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    auto r = run(model_->start(req));
    if (!r.ok()) return r.status();
    return r->pid();
  }
  StatusOr<uint32_t> wait(const std::string& id, const std::string& exec = "") {
    taskv2::WaitRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    auto r = run(model_->wait(req));
    if (!r.ok()) return r.status();
    return r->exit_status();
  }
  Status kill(const std::string& id, int sig, const std::string& exec = "") {
    taskv2::KillRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    req.set_signal(static_cast<uint32_t>(sig));
    return run(model_->kill(req)).status();
  }
  StatusOr<taskv2::DeleteResponse> remove(const std::string& id, const std::string& exec = "") {
    taskv2::DeleteRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    return run(model_->remove(req));
  }
  containerd::v1::types::Status state(const std::string& id, const std::string& exec = "") {
    taskv2::StateRequest req;
    req.set_id(id);
    req.set_exec_id(exec);
    auto r = run(model_->state(req));
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->status() : containerd::v1::types::UNKNOWN;
  }
  Status exec(const std::string& id, const std::string& execId, std::vector<std::string> args) {
    taskv2::ExecProcessRequest req;
    req.set_id(id);
    req.set_exec_id(execId);
    req.set_stdout("mem://" + id + "/" + execId);
    req.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
    req.mutable_spec()->set_value(jsonText(Json{{"args", args}, {"cwd", "/"}}));
    return run(model_->exec(req)).status();
  }
  Status pause(const std::string& id) {
    taskv2::PauseRequest req;
    req.set_id(id);
    return run(model_->pause(req)).status();
  }
  Status resume(const std::string& id) {
    taskv2::ResumeRequest req;
    req.set_id(id);
    return run(model_->resume(req)).status();
  }
  size_t count(const std::string& prefix) {
    return std::count_if(events_.events.begin(), events_.events.end(),
                         [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
  }

  hcs_fake::FakeHost host_{5};
  sim::World& world_ = host_.world;
  sim::Node& node_ = host_.node;
  const std::string& dir_ = host_.dir;
  hcs_fake::InProcessGuestBackend* guests_ = host_.guests;
  std::unique_ptr<hcs_fake::InProcessHcs>& api_ = host_.api;
  std::unique_ptr<TestPlatform> platform_;
  RecordingSink events_;
  std::unique_ptr<TaskModel> model_;
};

TEST_F(TaskModelTest, ATaskRunsItsProcessAndReportsInContainerdsOrder) {
  ASSERT_THAT(create("t1", {"echo", "hi"}), IsOk());
  EXPECT_EQ(state("t1"), containerd::v1::types::CREATED);
  auto pid = start("t1");
  ASSERT_THAT(pid, IsOk());
  EXPECT_GT(*pid, 0u);
  auto code = wait("t1");
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0u);
  EXPECT_EQ(state("t1"), containerd::v1::types::STOPPED);
  EXPECT_EQ(platform_->stdio_.written["mem://t1"], "hi\n") << "the output is in before the exit is reported";
  auto del = remove("t1");
  ASSERT_THAT(del, IsOk());
  EXPECT_EQ(del->exit_status(), 0u);
  EXPECT_THAT(events_.events, ElementsAre("/tasks/create", "/tasks/start", "exit t1 0", "/tasks/delete"));
  EXPECT_EQ(guests_->running(), 0u) << "the task's VM went with it";
}

TEST_F(TaskModelTest, IllegalCallsGetTheStatesError) {
  taskv2::StartRequest unknown;
  unknown.set_id("nope");
  EXPECT_THAT(run(model_->start(unknown)), StatusIs(Code::kNotFound));
  ASSERT_THAT(create("t1", {"sleep"}), IsOk());
  EXPECT_THAT(create("t1", {"sleep"}), StatusIs(Code::kAlreadyExists));
  EXPECT_THAT(kill("t1", SIGTERM), StatusIs(Code::kFailedPrecondition, "not running"));
  EXPECT_THAT(pause("t1"), StatusIs(Code::kFailedPrecondition));
  ASSERT_THAT(start("t1"), IsOk());
  EXPECT_THAT(start("t1"), StatusIs(Code::kFailedPrecondition, "already started"));
  EXPECT_THAT(remove("t1"), StatusIs(Code::kFailedPrecondition, "still running"));
  EXPECT_THAT(resume("t1"), StatusIs(Code::kFailedPrecondition, "not paused"));
  EXPECT_THAT(kill("t1", 0), StatusIs(Code::kInvalidArgument));
  ASSERT_THAT(kill("t1", SIGKILL), IsOk());
  EXPECT_EQ(*wait("t1"), 137u);
  EXPECT_THAT(kill("t1", SIGKILL), StatusIs(Code::kNotFound, "already exited"));
  EXPECT_THAT(pause("t1"), StatusIs(Code::kFailedPrecondition));
  EXPECT_THAT(exec("t1", "e1", {"true"}), StatusIs(Code::kFailedPrecondition, "exited"));
  ASSERT_THAT(remove("t1"), IsOk());
  EXPECT_THAT(remove("t1"), StatusIs(Code::kNotFound));
  EXPECT_EQ(count("exit "), 1u) << "exactly one exit";
}

TEST_F(TaskModelTest, ExecsHaveTheirOwnLifecycleAndEvents) {
  ASSERT_THAT(create("t1", {"sleep"}), IsOk());
  ASSERT_THAT(start("t1"), IsOk());
  ASSERT_THAT(exec("t1", "e1", {"echo", "from", "exec"}), IsOk());
  EXPECT_THAT(exec("t1", "e1", {"true"}), StatusIs(Code::kAlreadyExists));
  EXPECT_EQ(state("t1", "e1"), containerd::v1::types::CREATED);
  ASSERT_THAT(start("t1", "e1"), IsOk());
  EXPECT_EQ(*wait("t1", "e1"), 0u);
  EXPECT_EQ(platform_->stdio_.written["mem://t1/e1"], "from exec\n");
  EXPECT_EQ(state("t1"), containerd::v1::types::RUNNING) << "the init goes on";
  ASSERT_THAT(remove("t1", "e1"), IsOk());
  EXPECT_THAT(remove("t1", "e1"), StatusIs(Code::kNotFound));
  ASSERT_THAT(exec("t1", "e2", {"no-such-binary"}), IsOk());
  EXPECT_THAT(start("t1", "e2"), StatusIs(Code::kNotFound, "executable file not found")) << "runc's error, through the guest";
  ASSERT_THAT(kill("t1", SIGKILL), IsOk());
  EXPECT_EQ(*wait("t1"), 137u);
  EXPECT_THAT(events_.events, ElementsAre("/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started",
                                          "exit e1 0", "/tasks/exec-added", "exit t1 137"));
}

// A paused task makes no progress: a kill sent while it is paused takes
// effect only after resume, and its exit is reported once, then.
TEST_F(TaskModelTest, APausedTaskMakesNoProgressUntilResumed) {
  ASSERT_THAT(create("t1", {"sleep"}), IsOk());
  ASSERT_THAT(start("t1"), IsOk());
  ASSERT_THAT(pause("t1"), IsOk());
  EXPECT_EQ(state("t1"), containerd::v1::types::PAUSED);
  EXPECT_THAT(pause("t1"), StatusIs(Code::kFailedPrecondition, "already paused"));
  EXPECT_THAT(exec("t1", "e1", {"true"}), StatusIs(Code::kFailedPrecondition, "paused"));
  ASSERT_THAT(kill("t1", SIGKILL), IsOk()) << "a paused process can be signalled";
  settle(10s);
  EXPECT_EQ(count("exit "), 0u) << "nothing moves while paused";
  EXPECT_EQ(state("t1"), containerd::v1::types::PAUSED);
  ASSERT_THAT(resume("t1"), IsOk());
  EXPECT_EQ(*wait("t1"), 137u);
  settle();
  EXPECT_EQ(count("exit "), 1u);
  EXPECT_THAT(events_.events, ElementsAre("/tasks/create", "/tasks/start", "/tasks/paused", "/tasks/resumed", "exit t1 137"));
}

// A pause racing the init's exit (the kill's exit still on its way as HCS
// pauses the VM): however it ends, the stopped task does not leave its VM
// frozen - a VM nothing could resume (found by the campaign, seed 1519,
// where a pod container then never ran).
TEST_F(TaskModelTest, APauseRacingTheInitsExitLeavesTheVmRunning) {
  ASSERT_THAT(create("t1", {"sleep"}), IsOk());
  ASSERT_THAT(start("t1"), IsOk());
  // HCS takes 20 ms to pause: the exit of the kill sent just before arrives meanwhile.
  hcs_fake::ServiceFaults slowHcs;
  slowHcs.operationDelay = [] { return runtime::Duration(20ms); };
  host_.service->setFaults(slowHcs);
  taskv2::KillRequest k;
  k.set_id("t1");
  k.set_signal(SIGKILL);
  bool killed = false;
  runtime::spawn([](TaskModel& m, taskv2::KillRequest k, bool& done) -> Task<void> {
    (void)co_await m.kill(k);
    done = true;
  }(*model_, k, killed));
  taskv2::PauseRequest p;
  p.set_id("t1");
  auto paused = run(model_->pause(p));
  host_.service->setFaults({});
  world_.runUntil([&] { return killed; });
  EXPECT_THAT(paused, StatusIs(Code::kFailedPrecondition, "exited while it was being paused"));
  EXPECT_EQ(*wait("t1"), 137u);
  EXPECT_EQ(state("t1"), containerd::v1::types::STOPPED);
  auto vm = run(hcs::ComputeSystem::open(*api_, node_.loop(), vmIdFor("t1")));
  ASSERT_THAT(vm, IsOk());
  auto props = run((*vm)->properties());
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->state.value_or(""), "Running") << "the stopped task's VM was left paused";
  vm->reset();
  EXPECT_THAT(events_.events, ElementsAre("/tasks/create", "/tasks/start", "exit t1 137"));
  ASSERT_THAT(remove("t1"), IsOk());
}

// The spec's bind mounts come from the host (CRI's volumes, the pod's
// /etc/hosts and /dev/shm): their sources are shared into the VM over
// Plan9 - a file by its directory, a read-only mount read-only - and a
// source that does not exist is refused before anything runs.
TEST_F(TaskModelTest, BindMountSourcesAreSharedIntoTheVm) {
  std::string vol = dir_ + "/host/volume", etc = dir_ + "/host/etc";
  fs::create_directories(vol);
  fs::create_directories(etc);
  std::ofstream(etc + "/hosts") << "127.0.0.1 localhost\n";
  Json mounts = {{"mounts",
                  {{{"destination", "/data"}, {"type", "bind"}, {"source", vol}, {"options", {"rbind", "ro"}}},
                   {{"destination", "/etc/hosts"}, {"type", "bind"}, {"source", etc + "/hosts"}, {"options", {"rbind", "rw"}}},
                   {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}}}};
  ASSERT_THAT(create("m1", {"sleep"}, mounts), IsOk());
  auto vm = run(hcs::ComputeSystem::open(*api_, node_.loop(), vmIdFor("m1")));
  ASSERT_THAT(vm, IsOk());
  auto props = run((*vm)->properties({schema::kConfigurationPropertyType}));
  ASSERT_THAT(props, IsOk());
  std::map<std::string, bool> shares;  // host path -> read-only
  for (const auto& sh : props->configuration["VirtualMachine"]["Devices"]["Plan9"]["Shares"]) {
    shares[sh["Path"].get<std::string>()] = sh.value("ReadOnly", false);
  }
  ASSERT_TRUE(shares.count(vol)) << props->configuration.dump();
  EXPECT_TRUE(shares[vol]) << "a read-only mount's share is read-only";
  ASSERT_TRUE(shares.count(etc)) << "a file is shared by its directory";
  EXPECT_FALSE(shares[etc]);
  vm->reset();
  ASSERT_THAT(remove("m1"), IsOk());
  Json missing = {{"mounts", {{{"destination", "/x"}, {"type", "bind"}, {"source", dir_ + "/no/such"}}}}};
  EXPECT_THAT(create("m2", {"sleep"}, missing), StatusIs(Code::kInvalidArgument, "does not exist on the host"));
  EXPECT_EQ(guests_->running(), 0u);
}

TEST_F(TaskModelTest, BadInputIsRefusedBeforeAnythingRuns) {
  taskv2::CreateTaskRequest req;
  req.set_id("t1");
  req.set_bundle(dir_ + "/no-bundle");
  EXPECT_THAT(run(model_->create(req)), StatusIs(Code::kInvalidArgument, "config.json"));
  req.set_bundle(bundle("t1", {"true"}));
  req.set_stderr("bad://");
  EXPECT_THAT(run(model_->create(req)), StatusIs(Code::kInvalidArgument, "bad://"));
  req.set_stderr("");
  req.mutable_options()->set_type_url("containerd.runc.v1.Options");
  EXPECT_THAT(run(model_->create(req)), StatusIs(Code::kInvalidArgument, "runtime options"));
  req.clear_options();
  req.set_checkpoint("/x");
  EXPECT_THAT(run(model_->create(req)), StatusIs(Code::kUnimplemented));
  EXPECT_TRUE(events_.events.empty());
  EXPECT_EQ(guests_->running(), 0u) << "no VM was booted for a refused task";
}

TEST_F(TaskModelTest, ShutdownEndsTheShimOnlyWithoutTasks) {
  ASSERT_THAT(create("t1", {"sleep"}), IsOk());
  ASSERT_THAT(run(model_->shutdown({})), IsOk());
  EXPECT_FALSE(model_->done());
  ASSERT_THAT(remove("t1"), IsOk());
  ASSERT_THAT(run(model_->shutdown({})), IsOk());
  EXPECT_TRUE(model_->done());
}

}  // namespace
}  // namespace hcsshim::shim

namespace hcsshim::shim {
namespace {

// A task whose spec names an HCN namespace (as containerd's CRI sets it for a
// pod) gets that namespace's endpoint in its VM: the container sees the
// endpoint's MAC and the address HNS gave it; the VM and its NIC go with
// the task and HNS can then delete what it made.
TEST_F(TaskModelTest, ATaskInAnHcnNamespaceSeesItsEndpoint) {
  hcs_fake::InProcessHns hnsApi(host_.hns);
  platform_->hns = [&] { return std::make_unique<hcs_fake::InProcessHns>(host_.hns); };
  hns::HcnClient hcn(hnsApi);
  auto net = run(hcn.createNetwork(hns::natNetwork("pods", "192.0.2.0/24", "192.0.2.1")));
  ASSERT_THAT(net, IsOk());
  auto ep = run(hcn.createEndpoint(*net->id, {}));
  ASSERT_THAT(ep, IsOk());
  schema::HostComputeNamespace nsDoc;
  nsDoc.type = "Guest";
  auto ns = run(hcn.createNamespace(nsDoc));
  ASSERT_THAT(ns, IsOk());
  ASSERT_THAT(run(hcn.attachEndpoint(*ns->id, *ep->id)), IsOk());

  ASSERT_THAT(create("net1", {"ip"}, {{"windows", {{"network", {{"networkNamespace", *ns->id}}}}}}), IsOk());
  ASSERT_THAT(start("net1"), IsOk());
  EXPECT_THAT(wait("net1"), IsOk());
  std::string mac = gcs::linuxMac(*ep->macAddress);
  EXPECT_EQ(platform_->stdio_.written["mem://net1"],
            "lo\neth0 " + mac + " " + *ep->ipConfigurations[0].ipAddress + "/24\n");
  ASSERT_THAT(remove("net1"), IsOk());
  EXPECT_EQ(guests_->running(), 0u);
  EXPECT_THAT(run(hcn.detachEndpoint(*ns->id, *ep->id)), IsOk());
  EXPECT_THAT(run(hcn.deleteEndpoint(*ep->id)), IsOk());
  EXPECT_THAT(run(hcn.deleteNamespace(*ns->id)), IsOk());

  // containerd's CRI on Linux: the pod's network is a host netns path,
  // which stands for the HCN namespace made under namespaceForNetns(path).
  const std::string netnsPath = "/var/run/netns/cni-0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
  auto ep2 = run(hcn.createEndpoint(*net->id, {}));
  ASSERT_THAT(ep2, IsOk());
  schema::HostComputeNamespace criNs;
  criNs.id = hns::namespaceForNetns(netnsPath);
  criNs.type = "Guest";
  ASSERT_THAT(run(hcn.createNamespace(criNs)), IsOk());
  ASSERT_THAT(run(hcn.attachEndpoint(*criNs.id, *ep2->id)), IsOk());
  Json criSpec = {{"linux", {{"namespaces", {{{"type", "network"}, {"path", netnsPath}}}}}}};
  ASSERT_THAT(create("net3", {"ip"}, criSpec), IsOk());
  ASSERT_THAT(start("net3"), IsOk());
  EXPECT_THAT(wait("net3"), IsOk());
  EXPECT_EQ(platform_->stdio_.written["mem://net3"], "lo\neth0 " + gcs::linuxMac(*ep2->macAddress) + " " +
                                                        *ep2->ipConfigurations[0].ipAddress + "/24\n")
      << "the container is in the HCN namespace's network, not at the host path";
  ASSERT_THAT(remove("net3"), IsOk());
  // A netns path no CNI ADD made an HCN namespace for: refused, naming both.
  Json unknownNetns = {{"linux", {{"namespaces", {{{"type", "network"}, {"path", "/var/run/netns/cni-none"}}}}}}};
  Status noNs = create("net4", {"ip"}, unknownNetns);
  EXPECT_FALSE(noNs.ok());
  EXPECT_THAT(noNs.message(), ::testing::HasSubstr(hns::namespaceForNetns("/var/run/netns/cni-none")));
  // Another host namespace path: refused before any VM is made.
  Json hostIpc = {{"linux", {{"namespaces", {{{"type", "ipc"}, {"path", "/var/run/ipc/host"}}}}}}};
  EXPECT_THAT(create("net5", {"ip"}, hostIpc), StatusIs(Code::kInvalidArgument, "is a host path"));
  EXPECT_EQ(guests_->running(), 0u);

  // A namespace HNS does not have: refused naming it, no VM left.
  Json missing = {{"windows", {{"network", {{"networkNamespace", "0badc0de-0000-4000-8000-00000000beef"}}}}}};
  Status refused = create("net2", {"ip"}, missing);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("0badc0de-0000-4000-8000-00000000beef"));
  EXPECT_EQ(guests_->running(), 0u);
  EXPECT_EQ(host_.service->systemCount(), 0u);
}

}  // namespace
}  // namespace hcsshim::shim
