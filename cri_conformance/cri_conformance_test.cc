// The CRI conformance suite: what the kubelet asks of a runtime through
// containerd's CRI plugin (the checklist of cri-tools' validation suite,
// ../shared/facts/cri-conformance.md), run twice in one run - against the
// runhcs handler (containerd-shim-runhcs-v1, utility VMs through the fake
// HCS) and against the runc handler as the reference. A case is
// CriTest.<Case>/<handler>; the report shows the two columns side by side.
// Where the handlers must differ (the VM boundary), the case says so.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <map>

#include "cri_conformance/stack.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::cri {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// The run's registry, images and one stack per handler.
class CriEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0 || !functional::ContainerdInstance::binaryAvailable() || !fs::exists("/usr/bin/docker-registry")) {
      skipReason = "needs root, containerd and docker-registry (tools/setup)";
      return;
    }
    rt = std::move(*runtime::RealRuntime::create("cri-suite"));
    char tmpl[] = "/tmp/cri-suite-XXXXXX";
    dir = mkdtemp(tmpl);
    auto reg = Registry::start(*rt, dir);
    if (!reg.ok()) return fail("registry: " + reg.status().toString());
    registry = std::move(*reg);
    for (const char* h : {"runc", "runhcs"}) {
      auto s = CriStack::start(*rt, h, *registry, images, dir);
      if (!s.ok()) return fail(std::string(h) + " stack: " + s.status().toString());
      stacks[h] = std::move(*s);
      if (images.busybox.empty()) {
        auto pushed = pushTestImages(*rt, stacks[h]->containerd(), *registry, dir);
        if (!pushed.ok()) return fail("images: " + pushed.status().toString());
        images = *pushed;
        // The first stack was configured before the images were named: start it again.
        stacks[h].reset();
        auto again = CriStack::start(*rt, h, *registry, images, dir + "/again");
        if (!again.ok()) return fail(std::string(h) + " stack: " + again.status().toString());
        stacks[h] = std::move(*again);
      }
    }
  }
  void TearDown() override {
    stacks.clear();
    registry.reset();
    // What the reference's CNI bridge left on the host.
    if (rt) {
      runtime::ProcessSpec spec{.path = "/usr/sbin/ip", .args = {"ip", "link", "del", "crisuite0"}};
      spec.stderrMode = runtime::StdioMode::kNull;
      if (auto p = rt->processes().spawn(spec); p.ok()) (void)runtime::blockOn(rt->loop(), (*p)->wait());
    }
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
  void fail(const std::string& why) { setupError = why; }

  std::string skipReason, setupError, dir;
  std::unique_ptr<runtime::RealRuntime> rt;
  std::unique_ptr<Registry> registry;
  TestImages images;
  std::map<std::string, std::unique_ptr<CriStack>> stacks;
};

CriEnvironment* env = static_cast<CriEnvironment*>(::testing::AddGlobalTestEnvironment(new CriEnvironment));

class CriTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!env->skipReason.empty()) GTEST_SKIP() << env->skipReason;
    ASSERT_TRUE(env->setupError.empty()) << env->setupError;
    stack_ = env->stacks.at(GetParam()).get();
  }
  void TearDown() override {
    // Nothing a case made outlives it (a failed case too).
    for (const auto& id : pods_) {
      (void)cri().stopPodSandbox(id);
      (void)cri().removePodSandbox(id);
    }
  }
  CriClient& cri() { return stack_->cri(); }
  const std::string& handler() const { return stack_->handler(); }

  // podConfig: a pod of this case (unique metadata), on the pod network
  // where the column has one, else on the node's.
  v1::PodSandboxConfig podConfig(const std::string& name) {
    v1::PodSandboxConfig c;
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& ch : test) ch = std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '-';
    c.mutable_metadata()->set_name(name + "-" + test);
    c.mutable_metadata()->set_uid(name + "-uid-" + std::to_string(++counter_));
    c.mutable_metadata()->set_namespace_("cri-suite");
    // A hostname needs the pod's own UTS namespace (the node's has its own name).
    if (stack_->podNetwork()) c.set_hostname(name);
    c.set_log_directory(env->dir + "/logs/" + c.metadata().uid());
    (*c.mutable_labels())["suite"] = "cri";
    (*c.mutable_labels())["pod"] = name;
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        stack_->podNetwork() ? v1::POD : v1::NODE);
    return c;
  }
  // runPod: RunPodSandbox, remembered for cleanup.
  std::string runPod(const v1::PodSandboxConfig& c) {
    std::string id;
    grpc::Status st = cri().runPodSandbox(c, handler(), &id);
    EXPECT_TRUE(st.ok()) << describe(st);
    if (st.ok()) pods_.push_back(id);
    return id;
  }
  v1::ContainerConfig containerConfig(const std::string& name, std::vector<std::string> cmd) {
    v1::ContainerConfig c;
    c.mutable_metadata()->set_name(name);
    c.mutable_image()->set_image(env->images.busybox);
    for (auto& a : cmd) c.add_command(a);
    c.set_log_path(name + ".log");
    (*c.mutable_labels())["container"] = name;
    return c;
  }
  void pullBusybox() {
    std::string ref;
    grpc::Status st = cri().pullImage(env->images.busybox, &ref);
    ASSERT_TRUE(st.ok()) << describe(st);
  }

  CriStack* stack_ = nullptr;
  std::vector<std::string> pods_;
  int counter_ = 0;
};

TEST_P(CriTest, VersionNamesTheRuntime) {
  v1::VersionResponse v;
  grpc::Status st = cri().version(&v);
  ASSERT_TRUE(st.ok()) << describe(st);
  EXPECT_EQ(v.runtime_name(), "containerd");
  EXPECT_EQ(v.runtime_api_version(), "v1");
  EXPECT_FALSE(v.runtime_version().empty());
}

TEST_P(CriTest, StatusReportsRuntimeAndNetworkReady) {
  v1::StatusResponse r;
  grpc::Status st = cri().status(&r);
  ASSERT_TRUE(st.ok()) << describe(st);
  std::map<std::string, bool> conditions;
  for (const auto& c : r.status().conditions()) conditions[c.type()] = c.status();
  EXPECT_TRUE(conditions["RuntimeReady"]);
  EXPECT_TRUE(conditions["NetworkReady"]);
}

// Images come from the registry: a pull by tag gives a digest reference;
// status by tag and by that reference; listed; removed (twice: idempotent).
TEST_P(CriTest, ImagesArePulledListedAndRemoved) {
  std::string ref;
  grpc::Status st = cri().pullImage(env->images.busybox, &ref);
  ASSERT_TRUE(st.ok()) << describe(st);
  EXPECT_THAT(ref, HasSubstr("sha256:"));
  v1::ImageStatusResponse byTag, byRef;
  ASSERT_TRUE(cri().imageStatus(env->images.busybox, &byTag).ok());
  ASSERT_TRUE(byTag.has_image()) << "the pulled image has a status";
  EXPECT_THAT(byTag.image().repo_tags(), ::testing::Contains(env->images.busybox));
  EXPECT_GT(byTag.image().size(), 0u);
  ASSERT_TRUE(cri().imageStatus(ref, &byRef).ok());
  EXPECT_EQ(byRef.image().id(), byTag.image().id());
  v1::ListImagesResponse list;
  ASSERT_TRUE(cri().listImages(&list).ok());
  bool listed = false;
  for (const auto& i : list.images()) listed = listed || i.id() == byTag.image().id();
  EXPECT_TRUE(listed);
  st = cri().removeImage(env->images.busybox);
  EXPECT_TRUE(st.ok()) << describe(st);
  v1::ImageStatusResponse gone;
  ASSERT_TRUE(cri().imageStatus(env->images.busybox, &gone).ok());
  EXPECT_FALSE(gone.has_image()) << "a removed image has no status";
  st = cri().removeImage(env->images.busybox);
  EXPECT_TRUE(st.ok()) << "removing again is not an error: " << describe(st);
  // An image the registry does not have.
  st = cri().pullImage(env->registry->host() + "/hcsshim-test/missing:1.0", &ref);
  EXPECT_FALSE(st.ok());
}

// A pod sandbox runs, is READY with its metadata, labels and handler, is
// listed by id, state and label, stops (twice), and is removed (twice).
TEST_P(CriTest, PodSandboxLifecycle) {
  v1::PodSandboxConfig c = podConfig("life");
  std::string id = runPod(c);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(id.size(), 64u) << "CRI ids are 64 hex characters";
  v1::PodSandboxStatusResponse s;
  ASSERT_TRUE(cri().podSandboxStatus(id, &s).ok());
  EXPECT_EQ(s.status().state(), v1::SANDBOX_READY);
  EXPECT_EQ(s.status().metadata().name(), c.metadata().name());
  EXPECT_EQ(s.status().labels().at("pod"), "life");
  EXPECT_EQ(s.status().runtime_handler(), handler());
  EXPECT_GT(s.status().created_at(), 0);
  if (stack_->podNetwork()) {
    std::string subnet = podSubnet(handler());
    EXPECT_THAT(s.status().network().ip(), ::testing::StartsWith(subnet.substr(0, subnet.rfind('.') + 1)))
        << "the pod's address is from its network (CNI's result)";
  }
  v1::PodSandboxFilter byId;
  byId.set_id(id);
  v1::ListPodSandboxResponse l;
  ASSERT_TRUE(cri().listPodSandbox(byId, &l).ok());
  ASSERT_EQ(l.items_size(), 1);
  EXPECT_EQ(l.items(0).id(), id);
  v1::PodSandboxFilter byLabel;
  (*byLabel.mutable_label_selector())["pod"] = "life";
  ASSERT_TRUE(cri().listPodSandbox(byLabel, &l).ok());
  EXPECT_EQ(l.items_size(), 1);
  grpc::Status st = cri().stopPodSandbox(id);
  ASSERT_TRUE(st.ok()) << describe(st);
  ASSERT_TRUE(cri().podSandboxStatus(id, &s).ok());
  EXPECT_EQ(s.status().state(), v1::SANDBOX_NOTREADY);
  v1::PodSandboxFilter ready;
  ready.mutable_state()->set_state(v1::SANDBOX_READY);
  (*ready.mutable_label_selector())["pod"] = "life";
  ASSERT_TRUE(cri().listPodSandbox(ready, &l).ok());
  EXPECT_EQ(l.items_size(), 0) << "a stopped pod is not READY";
  EXPECT_TRUE(cri().stopPodSandbox(id).ok()) << "stopping again is not an error";
  st = cri().removePodSandbox(id);
  ASSERT_TRUE(st.ok()) << describe(st);
  st = cri().podSandboxStatus(id, &s);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << describe(st);
  EXPECT_TRUE(cri().removePodSandbox(id).ok()) << "removing again is not an error";
}

// A container in a pod: created, started, ExecSync (output and exit code),
// stopped (its exit code), removed.
TEST_P(CriTest, ContainerLifecycleAndExecSync) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("ctr");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string id;
  grpc::Status st = cri().createContainer(pod, containerConfig("main", {"sh", "-c", "echo started; exec sleep 1000"}),
                                          pc, &id);
  ASSERT_TRUE(st.ok()) << describe(st);
  v1::ContainerStatusResponse cs;
  ASSERT_TRUE(cri().containerStatus(id, &cs).ok());
  EXPECT_EQ(cs.status().state(), v1::CONTAINER_CREATED);
  st = cri().startContainer(id);
  ASSERT_TRUE(st.ok()) << describe(st);
  ASSERT_TRUE(cri().containerStatus(id, &cs).ok());
  EXPECT_EQ(cs.status().state(), v1::CONTAINER_RUNNING);
  EXPECT_GT(cs.status().started_at(), 0);
  v1::ExecSyncResponse ex;
  st = cri().execSync(id, {"echo", "hello"}, 30, &ex);
  ASSERT_TRUE(st.ok()) << describe(st);
  EXPECT_EQ(ex.stdout(), "hello\n");
  EXPECT_EQ(ex.exit_code(), 0);
  st = cri().execSync(id, {"sh", "-c", "echo oops >&2; exit 3"}, 30, &ex);
  ASSERT_TRUE(st.ok()) << describe(st);
  EXPECT_EQ(ex.stderr(), "oops\n");
  EXPECT_EQ(ex.exit_code(), 3);
  // The container is in the pod's network: its eth0 has the pod's address
  // (for runhcs: the HNS endpoint's NIC, plugged into the utility VM).
  v1::PodSandboxStatusResponse ps;
  ASSERT_TRUE(cri().podSandboxStatus(pod, &ps).ok());
  ASSERT_FALSE(ps.status().network().ip().empty());
  st = cri().execSync(id, {"ip", "-o", "-4", "addr", "show", "eth0"}, 30, &ex);
  ASSERT_TRUE(st.ok()) << describe(st);
  EXPECT_THAT(ex.stdout(), HasSubstr("inet " + ps.status().network().ip() + "/24")) << ex.stderr();
  v1::ContainerFilter byPod;
  byPod.set_pod_sandbox_id(pod);
  v1::ListContainersResponse l;
  ASSERT_TRUE(cri().listContainers(byPod, &l).ok());
  ASSERT_EQ(l.containers_size(), 1);
  EXPECT_EQ(l.containers(0).id(), id);
  st = cri().stopContainer(id, 2);
  ASSERT_TRUE(st.ok()) << describe(st);
  ASSERT_TRUE(cri().containerStatus(id, &cs).ok());
  EXPECT_EQ(cs.status().state(), v1::CONTAINER_EXITED);
  // The CRI default is the pod's PID namespace (the sandbox's process is
  // its PID 1), so SIGTERM ends sleep: 128 + 15.
  EXPECT_EQ(cs.status().exit_code(), 143);
  EXPECT_TRUE(cri().stopContainer(id, 2).ok()) << "stopping again is not an error";
  st = cri().removeContainer(id);
  ASSERT_TRUE(st.ok()) << describe(st);
  st = cri().containerStatus(id, &cs);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << describe(st);
  EXPECT_TRUE(cri().removeContainer(id).ok()) << "removing again is not an error";
}

// Unknown ids get NOT_FOUND, as the CRI plugin answers for runc.
TEST_P(CriTest, UnknownIdsAreNotFound) {
  const std::string nobody(64, 'f');
  v1::PodSandboxStatusResponse ps;
  EXPECT_EQ(cri().podSandboxStatus(nobody, &ps).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ContainerStatusResponse cs;
  EXPECT_EQ(cri().containerStatus(nobody, &cs).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(cri().startContainer(nobody).error_code(), grpc::StatusCode::NOT_FOUND);
  std::string id;
  grpc::Status st = cri().createContainer(nobody, containerConfig("orphan", {"true"}), podConfig("orphan"), &id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << describe(st);
}

INSTANTIATE_TEST_SUITE_P(Handlers, CriTest, ::testing::Values("runhcs", "runc"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace hcsshim::cri
