// The CRI conformance suite: what the kubelet asks of a runtime through
// containerd's CRI plugin (the checklist of cri-tools' validation suite,
// ../shared/facts/cri-conformance.md), run twice in one run - against the
// runhcs handler (containerd-shim-runhcs-v1, utility VMs through the fake
// HCS) and against the runc handler as the reference. A case is
// CriTest.<Case>/<handler>; the report shows the two columns side by side.
// Where the handlers must differ (the VM boundary), the case says so.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cri_conformance/stack.h"
#include "cri_conformance/streaming.h"
#include "platforms/linux/daemon_hns.h"
#include "src/hns/hcn.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::cri {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
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
    if (!stack_) return;
    for (const auto& id : pods_) {
      (void)cri().stopPodSandbox(id);
      (void)cri().removePodSandbox(id);
    }
    // The removed pods' utility VMs are gone too.
    auto systems = stack_->computeSystems();
    EXPECT_TRUE(systems.ok()) << systems.status().toString();
    EXPECT_EQ(systems.ok() ? *systems : 999, 0u) << "compute systems left in HCS after the case";
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
    c.mutable_metadata()->set_uid(name + "-" + test + "-" + handler() + "-" + std::to_string(++counter_));
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

  // runContainer: created and started in `pod`; "" (and a failure) if not.
  std::string runContainer(const std::string& pod, const v1::PodSandboxConfig& pc, const v1::ContainerConfig& c) {
    std::string id;
    grpc::Status st = cri().createContainer(pod, c, pc, &id);
    EXPECT_TRUE(st.ok()) << "create " << c.metadata().name() << ": " << describe(st);
    if (!st.ok()) return "";
    st = cri().startContainer(id);
    EXPECT_TRUE(st.ok()) << "start " << c.metadata().name() << ": " << describe(st);
    return st.ok() ? id : "";
  }
  // waitExited: the container's status once it has exited (a failure if it
  // does not within a minute - a liveness bound, not a timing check).
  v1::ContainerStatus waitExited(const std::string& id) {
    v1::ContainerStatusResponse cs;
    for (int i = 0; i < 600; ++i) {
      if (cri().containerStatus(id, &cs).ok() && cs.status().state() == v1::CONTAINER_EXITED) return cs.status();
      usleep(100 * 1000);
    }
    ADD_FAILURE() << "container " << id << " did not exit";
    return cs.status();
  }
  // exec: ExecSync's stdout (a failure if the call fails or the command does).
  std::string exec(const std::string& id, std::vector<std::string> cmd) {
    v1::ExecSyncResponse ex;
    grpc::Status st = cri().execSync(id, cmd, 30, &ex);
    EXPECT_TRUE(st.ok()) << describe(st);
    EXPECT_EQ(ex.exit_code(), 0) << cmd[0] << ": " << ex.stderr();
    return ex.stdout();
  }
  std::string readLog(const v1::PodSandboxConfig& pc, const std::string& logPath) {
    return runtime::readFile(pc.log_directory() + "/" + logPath, 1 << 20).value_or("");
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

// Container logs in the CRI log format (<RFC 3339 time> <stream> F <line>)
// at the pod's log directory; ReopenContainerLog starts a new file, which
// gets what the container writes after.
TEST_P(CriTest, ContainerLogsInCriFormatAndReopen) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("logs");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  v1::ContainerConfig once = containerConfig("once", {"sh", "-c", "echo out; echo err >&2"});
  std::string id = runContainer(pod, pc, once);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(waitExited(id).exit_code(), 0);
  std::string log = readLog(pc, once.log_path());
  EXPECT_THAT(log, ::testing::ContainsRegex("(^|\n)[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z stdout F out\n"));
  EXPECT_THAT(log, ::testing::ContainsRegex("(^|\n)[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z stderr F err\n"));
  // A running container: its log moved away, reopened, then more output.
  v1::ContainerConfig chatty = containerConfig(
      "chatty", {"sh", "-c", "echo one; while true; do if [ -e /go ]; then echo two; rm /go; fi; sleep 0.1; done"});
  std::string live = runContainer(pod, pc, chatty);
  ASSERT_FALSE(live.empty());
  std::string path = pc.log_directory() + "/" + chatty.log_path();
  for (int i = 0; i < 100 && readLog(pc, chatty.log_path()).find("one") == std::string::npos; ++i) usleep(100 * 1000);
  ASSERT_THAT(readLog(pc, chatty.log_path()), HasSubstr("stdout F one"));
  fs::rename(path, path + ".1");
  grpc::Status st = cri().reopenContainerLog(live);
  ASSERT_TRUE(st.ok()) << describe(st);
  exec(live, {"touch", "/go"});
  for (int i = 0; i < 100 && readLog(pc, chatty.log_path()).find("two") == std::string::npos; ++i) usleep(100 * 1000);
  EXPECT_THAT(readLog(pc, chatty.log_path()), HasSubstr("stdout F two")) << "the reopened file gets new output";
  EXPECT_THAT(readLog(pc, chatty.log_path() + ".1"), Not(HasSubstr("two"))) << "the old one does not";
  // A stopped container's log cannot be reopened.
  EXPECT_FALSE(cri().reopenContainerLog(id).ok());
}

// StopContainer: SIGTERM, then SIGKILL once the timeout has passed - a
// process that handles TERM exits with its own code, one that ignores it
// (PID 1 of its own PID namespace, no handler) is killed.
TEST_P(CriTest, StopHonoursTermThenKills) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("stop");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  v1::ContainerConfig polite = containerConfig("polite", {"sh", "-c", "trap 'exit 42' TERM; touch /trapped; while true; do sleep 0.1; done"});
  v1::ContainerConfig stubborn = containerConfig("stubborn", {"sleep", "1000"});
  stubborn.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  std::string a = runContainer(pod, pc, polite), b = runContainer(pod, pc, stubborn);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  // The init is its pid namespace's PID 1: a SIGTERM before the trap is
  // ignored. /trapped says the trap is set.
  bool trapped = false;
  for (int i = 0; i < 200 && !trapped; ++i) {
    v1::ExecSyncResponse ex;
    trapped = cri().execSync(a, {"test", "-e", "/trapped"}, 10, &ex).ok() && ex.exit_code() == 0;
    if (!trapped) usleep(100 * 1000);
  }
  ASSERT_TRUE(trapped) << "the polite container set its TERM trap";
  ASSERT_TRUE(cri().stopContainer(a, 30).ok());
  EXPECT_EQ(waitExited(a).exit_code(), 42);
  ASSERT_TRUE(cri().stopContainer(b, 1).ok());
  v1::ContainerStatus sb = waitExited(b);
  EXPECT_EQ(sb.exit_code(), 137) << "killed after the timeout";
  EXPECT_GE(sb.finished_at(), sb.started_at());
}

// Stats of a running container, alone and in the list.
TEST_P(CriTest, ContainerStats) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("stats");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string id = runContainer(pod, pc, containerConfig("busy", {"sh", "-c", "i=0; while true; do i=$((i+1)); done"}));
  ASSERT_FALSE(id.empty());
  usleep(500 * 1000);
  v1::ContainerStatsResponse r;
  grpc::Status st = cri().containerStats(id, &r);
  ASSERT_TRUE(st.ok()) << describe(st);
  EXPECT_EQ(r.stats().attributes().id(), id);
  EXPECT_GT(r.stats().cpu().timestamp(), 0);
  EXPECT_GT(r.stats().cpu().usage_core_nano_seconds().value(), 0u) << "a busy loop uses CPU";
  EXPECT_GT(r.stats().memory().working_set_bytes().value(), 0u);
  v1::ContainerStatsFilter byPod;
  byPod.set_pod_sandbox_id(pod);
  v1::ListContainerStatsResponse l;
  st = cri().listContainerStats(byPod, &l);
  ASSERT_TRUE(st.ok()) << describe(st);
  ASSERT_EQ(l.stats_size(), 1);
  EXPECT_EQ(l.stats(0).attributes().id(), id);
}

// ListContainers filters by state and label, ANDed.
TEST_P(CriTest, ListContainersFilters) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("list");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string running = runContainer(pod, pc, containerConfig("running", {"sleep", "1000"}));
  std::string exited = runContainer(pod, pc, containerConfig("exited", {"true"}));
  std::string created;
  ASSERT_TRUE(cri().createContainer(pod, containerConfig("created", {"true"}), pc, &created).ok());
  ASSERT_FALSE(running.empty());
  ASSERT_FALSE(exited.empty());
  waitExited(exited);
  auto ids = [&](const v1::ContainerFilter& f) {
    v1::ListContainersResponse l;
    EXPECT_TRUE(cri().listContainers(f, &l).ok());
    std::set<std::string> out;
    for (const auto& c : l.containers()) out.insert(c.id());
    return out;
  };
  v1::ContainerFilter f;
  f.set_pod_sandbox_id(pod);
  EXPECT_EQ(ids(f), (std::set<std::string>{running, exited, created}));
  f.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  EXPECT_EQ(ids(f), (std::set<std::string>{running}));
  f.mutable_state()->set_state(v1::CONTAINER_EXITED);
  EXPECT_EQ(ids(f), (std::set<std::string>{exited}));
  f.mutable_state()->set_state(v1::CONTAINER_CREATED);
  EXPECT_EQ(ids(f), (std::set<std::string>{created}));
  v1::ContainerFilter byLabel;
  byLabel.set_pod_sandbox_id(pod);
  (*byLabel.mutable_label_selector())["container"] = "exited";
  EXPECT_EQ(ids(byLabel), (std::set<std::string>{exited}));
  byLabel.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  EXPECT_TRUE(ids(byLabel).empty()) << "label and state are ANDed";
}

// The pod's hostname and DNS config reach its containers.
TEST_P(CriTest, HostnameAndDnsConfig) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("dns");
  pc.set_hostname("web-0");
  pc.mutable_dns_config()->add_servers("10.96.0.10");
  pc.mutable_dns_config()->add_searches("ns1.svc.cluster.local");
  pc.mutable_dns_config()->add_options("ndots:5");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string id = runContainer(pod, pc, containerConfig("c", {"sleep", "1000"}));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(exec(id, {"hostname"}), "web-0\n");
  std::string resolv = exec(id, {"cat", "/etc/resolv.conf"});
  EXPECT_THAT(resolv, HasSubstr("nameserver 10.96.0.10"));
  EXPECT_THAT(resolv, HasSubstr("search ns1.svc.cluster.local"));
  EXPECT_THAT(resolv, HasSubstr("options ndots:5"));
}

// The security context's parts that apply inside the guest.
TEST_P(CriTest, SecurityContextInsideTheContainer) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("sec");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  v1::ContainerConfig c = containerConfig("c", {"sleep", "1000"});
  auto* sc = c.mutable_linux()->mutable_security_context();
  sc->mutable_run_as_user()->set_value(1234);
  sc->mutable_run_as_group()->set_value(2345);
  sc->add_supplemental_groups(3456);
  sc->set_readonly_rootfs(true);
  sc->set_no_new_privs(true);
  sc->mutable_capabilities()->add_drop_capabilities("ALL");
  sc->add_masked_paths("/proc/version");
  sc->add_readonly_paths("/tmp");
  std::string id = runContainer(pod, pc, c);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(exec(id, {"id", "-u"}), "1234\n");
  EXPECT_EQ(exec(id, {"id", "-g"}), "2345\n");
  EXPECT_THAT(exec(id, {"id", "-G"}), HasSubstr("3456"));
  std::string status = exec(id, {"cat", "/proc/self/status"});
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1"));
  EXPECT_THAT(status, HasSubstr("CapEff:\t0000000000000000"));
  EXPECT_EQ(exec(id, {"cat", "/proc/version"}), "") << "a masked path reads empty";
  v1::ExecSyncResponse ex;
  ASSERT_TRUE(cri().execSync(id, {"touch", "/new-file"}, 30, &ex).ok());
  EXPECT_NE(ex.exit_code(), 0) << "the root filesystem is read-only";
  ASSERT_TRUE(cri().execSync(id, {"touch", "/tmp/x"}, 30, &ex).ok());
  EXPECT_NE(ex.exit_code(), 0) << "/tmp is a read-only path";
}

// Exec through the streaming server (what kubectl exec reaches): output on
// its channels, the exit code in the status; stdin on its channel.
TEST_P(CriTest, ExecThroughTheStreamingServer) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("exec");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string id = runContainer(pod, pc, containerConfig("c", {"sleep", "1000"}));
  ASSERT_FALSE(id.empty());
  v1::ExecRequest req;
  req.set_container_id(id);
  for (const char* a : {"sh", "-c", "echo out; echo err >&2; exit 7"}) req.add_cmd(a);
  req.set_stdout(true);
  req.set_stderr(true);
  std::string url;
  grpc::Status st = cri().exec(req, &url);
  ASSERT_TRUE(st.ok()) << describe(st);
  auto got = streamExec(url, "");
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_EQ(got->stdout, "out\n");
  EXPECT_EQ(got->stderr, "err\n");
  EXPECT_EQ(got->exitCode, 7) << got->status;
  v1::ExecRequest in;
  in.set_container_id(id);
  for (const char* a : {"head", "-c", "5"}) in.add_cmd(a);
  in.set_stdin(true);
  in.set_stdout(true);
  ASSERT_TRUE(cri().exec(in, &url).ok());
  got = streamExec(url, "hello, world");
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_EQ(got->stdout, "hello");
  EXPECT_EQ(got->exitCode, 0) << got->status;
}

// Attach to a running container's stdio: what it reads from stdin, what it
// writes comes back; the session ends with the container.
TEST_P(CriTest, AttachToAContainersStdio) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("attach");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  v1::ContainerConfig c = containerConfig("c", {"sh", "-c", "read line; echo got:$line"});
  c.set_stdin(true);
  c.set_stdin_once(true);
  std::string id = runContainer(pod, pc, c);
  ASSERT_FALSE(id.empty());
  v1::AttachRequest req;
  req.set_container_id(id);
  req.set_stdin(true);
  req.set_stdout(true);
  std::string url;
  grpc::Status st = cri().attach(req, &url);
  ASSERT_TRUE(st.ok()) << describe(st);
  auto got = streamExec(url, "ping\n");
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_EQ(got->stdout, "got:ping\n");
  EXPECT_EQ(waitExited(id).exit_code(), 0);
}

// PortForward to a pod's port through the streaming server. containerd's
// CRI on Linux forwards inside the pod's network namespace on the host
// (the netns its CNI ADD was given): a runhcs pod's network is in its
// utility VM, so there is nothing listening there - a VM-boundary
// difference (docs/cri.md); the case checks the refusal is an error, not
// a hang.
TEST_P(CriTest, PortForwardToAPod) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("pf");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string id = runContainer(
      pod, pc,
      containerConfig("web", {"sh", "-c", "mkdir -p /w && echo hello-from-pod > /w/index.html && exec httpd -f -p 8080 -h /w"}));
  ASSERT_FALSE(id.empty());
  std::string url;
  grpc::Status st = cri().portForward(pod, 8080, &url);
  ASSERT_TRUE(st.ok()) << describe(st);
  StatusOr<std::string> got = UnavailableError("not tried");
  for (int i = 0; i < 20; ++i) {  // httpd may still be starting
    ASSERT_TRUE(cri().portForward(pod, 8080, &url).ok());
    got = streamPortForward(url, 8080, "GET / HTTP/1.0\r\n\r\n");
    if (got.ok() && got->find("hello-from-pod") != std::string::npos) break;
    usleep(200 * 1000);
  }
  if (handler() == "runhcs") {
    EXPECT_FALSE(got.ok() && got->find("hello-from-pod") != std::string::npos)
        << "containerd forwards in the host netns, where a runhcs pod has nothing";
    GTEST_SKIP() << "VM boundary: containerd's CRI forwards ports in the pod's host netns; a runhcs pod listens in its "
                    "utility VM (docs/cri.md)";
  }
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_THAT(*got, HasSubstr("hello-from-pod"));
}

// A user named in the image (its /etc/passwd), resolved by the runtime.
TEST_P(CriTest, RunAsAUserByName) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("user");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  v1::ContainerConfig c = containerConfig("c", {"sleep", "1000"});
  c.mutable_linux()->mutable_security_context()->set_run_as_username("tester");
  std::string id = runContainer(pod, pc, c);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(exec(id, {"id", "-u"}), "1000\n");
  EXPECT_EQ(exec(id, {"id", "-g"}), "1000\n");
  v1::ContainerConfig nobody = containerConfig("nobody", {"true"});
  nobody.mutable_linux()->mutable_security_context()->set_run_as_username("no-such-user");
  std::string bad;
  grpc::Status st = cri().createContainer(pod, nobody, pc, &bad);
  if (st.ok()) st = cri().startContainer(bad);
  EXPECT_FALSE(st.ok()) << "a user the image does not have";
}

// Host directories as volumes: written from the host, read in the
// container, read-only when asked, a host path that is a symlink followed.
TEST_P(CriTest, HostPathVolumes) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  std::string host = env->dir + "/volumes/" + handler();
  fs::create_directories(host + "/data");
  std::ofstream(host + "/data/greeting") << "from the host\n";
  std::error_code ec;
  fs::create_directory_symlink(host + "/data", host + "/link", ec);
  v1::PodSandboxConfig pc = podConfig("vol");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  v1::ContainerConfig c = containerConfig("c", {"sleep", "1000"});
  auto* rw = c.add_mounts();
  rw->set_container_path("/rw");
  rw->set_host_path(host + "/data");
  auto* ro = c.add_mounts();
  ro->set_container_path("/ro");
  ro->set_host_path(host + "/data");
  ro->set_readonly(true);
  auto* linked = c.add_mounts();
  linked->set_container_path("/linked");
  linked->set_host_path(host + "/link");
  std::string id = runContainer(pod, pc, c);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(exec(id, {"cat", "/rw/greeting"}), "from the host\n");
  EXPECT_EQ(exec(id, {"cat", "/linked/greeting"}), "from the host\n") << "the symlink's target is mounted";
  exec(id, {"sh", "-c", "echo from the container > /rw/reply"});
  EXPECT_EQ(runtime::readFile(host + "/data/reply").value_or(""), "from the container\n");
  v1::ExecSyncResponse ex;
  ASSERT_TRUE(cri().execSync(id, {"sh", "-c", "echo no > /ro/denied"}, 30, &ex).ok());
  EXPECT_NE(ex.exit_code(), 0) << "a read-only volume";
  EXPECT_FALSE(fs::exists(host + "/data/denied"));
  v1::ContainerStatusResponse cs;
  ASSERT_TRUE(cri().containerStatus(id, &cs).ok());
  EXPECT_EQ(cs.status().mounts_size(), 3);
}

// Containers of one pod share its network: one reaches the other on localhost.
TEST_P(CriTest, ContainersOfAPodShareItsNetwork) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("shared");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string web = runContainer(
      pod, pc, containerConfig("web", {"sh", "-c", "mkdir -p /w && echo shared-net > /w/index.html && exec httpd -f -p 8081 -h /w"}));
  std::string client = runContainer(pod, pc, containerConfig("client", {"sleep", "1000"}));
  ASSERT_FALSE(web.empty());
  ASSERT_FALSE(client.empty());
  std::string page;
  for (int i = 0; i < 50 && page.find("shared-net") == std::string::npos; ++i) {
    v1::ExecSyncResponse ex;
    if (cri().execSync(client, {"wget", "-q", "-O", "-", "http://127.0.0.1:8081/"}, 10, &ex).ok()) page = ex.stdout();
    if (page.find("shared-net") == std::string::npos) usleep(100 * 1000);
  }
  EXPECT_THAT(page, HasSubstr("shared-net"));
}

// Safe sysctls of the pod reach its containers.
TEST_P(CriTest, PodSysctls) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("sysctl");
  (*pc.mutable_linux()->mutable_sysctls())["kernel.shm_rmid_forced"] = "1";
  (*pc.mutable_linux()->mutable_sysctls())["net.ipv4.ip_local_port_range"] = "20000 30000";
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string id = runContainer(pod, pc, containerConfig("c", {"sleep", "1000"}));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(exec(id, {"cat", "/proc/sys/kernel/shm_rmid_forced"}), "1\n");
  EXPECT_EQ(exec(id, {"cat", "/proc/sys/net/ipv4/ip_local_port_range"}), "20000\t30000\n");
}

// Images by digest: the pull's reference works for status, the digest is
// listed, and a pull by digest gives the same image.
TEST_P(CriTest, ImagesByDigest) {
  std::string ref;
  ASSERT_TRUE(cri().pullImage(env->images.busybox, &ref).ok());
  v1::ImageStatusResponse byTag;
  ASSERT_TRUE(cri().imageStatus(env->images.busybox, &byTag).ok());
  ASSERT_GT(byTag.image().repo_digests_size(), 0);
  std::string digestRef = byTag.image().repo_digests(0);
  EXPECT_THAT(digestRef, HasSubstr("@sha256:"));
  std::string again;
  grpc::Status st = cri().pullImage(digestRef, &again);
  ASSERT_TRUE(st.ok()) << describe(st);
  EXPECT_EQ(again, ref);
  v1::ImageStatusResponse byDigest;
  ASSERT_TRUE(cri().imageStatus(digestRef, &byDigest).ok());
  EXPECT_EQ(byDigest.image().id(), byTag.image().id());
}

// httpGet: what a host-side HTTP/1.0 GET of http://<ip>:<port>/ returns ("" if nothing).
std::string httpGet(const std::string& ip, int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return "";
  timeval tv{5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  std::string out;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const char req[] = "GET / HTTP/1.0\r\n\r\n";
    if (::send(s, req, sizeof req - 1, MSG_NOSIGNAL) > 0) {
      char buf[4096];
      for (ssize_t n; (n = ::recv(s, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(s);
  return out;
}

// A hostPort: the pod's port reachable on the host's. For runhcs the
// mapping becomes the HNS endpoint's PortMapping policy (hcn-nat), which
// the host's NAT (WinNAT on Windows, the fake HCS's nftables table here)
// forwards to the pod's address in its VM. Both are reached at the host's
// address on the pods' network, as a node's other pods would.
TEST_P(CriTest, HostPortMapping) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  const int hostPort = handler() == "runc" ? 18083 : 18084;
  v1::PodSandboxConfig pc = podConfig("hostport");
  auto* pm = pc.add_port_mappings();
  pm->set_container_port(8083);
  pm->set_host_port(hostPort);
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  std::string id = runContainer(
      pod, pc, containerConfig("web", {"sh", "-c", "mkdir -p /w && echo via-host-port > /w/index.html && exec httpd -f -p 8083 -h /w"}));
  ASSERT_FALSE(id.empty());
  if (handler() == "runhcs") {
    auto api = runtime::blockOn(env->rt->loop(), platforms::DaemonHns::connect(*env->rt, stack_->hcsAddress()));
    ASSERT_TRUE(api.ok()) << api.status().toString();
    hns::HcnClient hcn(**api);
    auto eps = runtime::blockOn(env->rt->loop(), hcn.listEndpoints(Json::object()));
    ASSERT_TRUE(eps.ok()) << eps.status().toString();
    bool mapped = false;
    for (const auto& ep : *eps) {
      for (const auto& p : ep.policies) {
        if (p.type == "PortMapping" && p.settings.is_object() && p.settings.contains("ExternalPort") &&
            p.settings["ExternalPort"] == hostPort && p.settings["InternalPort"] == 8083) {
          mapped = true;
        }
      }
    }
    EXPECT_TRUE(mapped) << "the pod's endpoint has a PortMapping policy for host port " << hostPort;
  }
  // The host's address on the pods' network: the runc bridge's, the NAT network's gateway.
  const std::string host = handler() == "runc" ? "10.99.0.1" : "10.98.0.1";
  std::string page;
  for (int i = 0; i < 100 && page.find("via-host-port") == std::string::npos; ++i) {
    page = httpGet(host, hostPort);
    if (page.find("via-host-port") == std::string::npos) usleep(100 * 1000);
  }
  EXPECT_THAT(page, HasSubstr("via-host-port"));
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

// Bad requests get the status the CRI plugin gives for runc, and leave
// nothing behind: no pod, no container, no VM.
TEST_P(CriTest, BadRequestsAreRefusedAndLeaveNothing) {
  ASSERT_NO_FATAL_FAILURE(pullBusybox());
  v1::PodSandboxConfig pc = podConfig("bad");
  std::string pod = runPod(pc);
  ASSERT_FALSE(pod.empty());
  // The same pod metadata again: its name is reserved.
  std::string again;
  grpc::Status st = cri().runPodSandbox(pc, handler(), &again);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNKNOWN) << describe(st);
  EXPECT_THAT(st.error_message(), HasSubstr("is reserved"));
  // A pod without metadata.
  v1::PodSandboxConfig noMeta = pc;
  noMeta.clear_metadata();
  st = cri().runPodSandbox(noMeta, handler(), &again);
  EXPECT_FALSE(st.ok());
  // A handler that does not exist.
  v1::PodSandboxConfig other = podConfig("nohandler");
  st = cri().runPodSandbox(other, "no-such-handler", &again);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.error_message(), HasSubstr("no-such-handler"));
  // A container of an image nobody pulled, one with no command at all, a
  // duplicate container name.
  std::string id;
  v1::ContainerConfig missing = containerConfig("missing", {"true"});
  missing.mutable_image()->set_image(env->registry->host() + "/hcsshim-test/never-pulled:1.0");
  st = cri().createContainer(pod, missing, pc, &id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << describe(st);
  v1::ContainerConfig noCmd = containerConfig("nocmd", {});
  noCmd.mutable_image()->set_image(env->images.pause);
  std::string pulled;
  ASSERT_TRUE(cri().pullImage(env->images.pause, &pulled).ok());
  v1::ContainerConfig dup = containerConfig("dup", {"sleep", "1000"});
  std::string first = runContainer(pod, pc, dup);
  ASSERT_FALSE(first.empty());
  st = cri().createContainer(pod, dup, pc, &id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNKNOWN) << describe(st);
  EXPECT_THAT(st.error_message(), HasSubstr("is reserved"));
  // A command that does not exist: created, and the start fails.
  v1::ContainerConfig bogus = containerConfig("bogus", {"/no/such/binary"});
  std::string bad;
  st = cri().createContainer(pod, bogus, pc, &bad);
  if (st.ok()) {
    st = cri().startContainer(bad);
    EXPECT_FALSE(st.ok()) << "starting a binary that does not exist";
    EXPECT_TRUE(cri().removeContainer(bad).ok());
  }
  // Nothing but the pod and its one container is left.
  v1::ContainerFilter f;
  f.set_pod_sandbox_id(pod);
  v1::ListContainersResponse l;
  ASSERT_TRUE(cri().listContainers(f, &l).ok());
  EXPECT_EQ(l.containers_size(), 1);
  v1::PodSandboxFilter all;
  (*all.mutable_label_selector())["suite"] = "cri";
  v1::ListPodSandboxResponse pods;
  ASSERT_TRUE(cri().listPodSandbox(all, &pods).ok());
  EXPECT_EQ(pods.items_size(), 1) << "the refused pods left no sandbox";
  if (handler() == "runhcs") {
    auto systems = stack_->computeSystems();
    EXPECT_EQ(systems.ok() ? *systems : 999, 1u) << "one utility VM: the pod's";
  }
}

INSTANTIATE_TEST_SUITE_P(Handlers, CriTest, ::testing::Values("runhcs", "runc"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace hcsshim::cri
