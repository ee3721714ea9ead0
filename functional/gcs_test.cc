// The guest agent end to end: a real `gcs` process, real runc, real overlay
// mounts, driven through the host's GuestConnection over hybrid vsock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "functional/harness/gcs_guest.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using ::testing::HasSubstr;
using bridge::GuestProcess;
using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

class GcsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runc, overlay mounts)";
    rt_ = std::move(*runtime::RealRuntime::create("gcs-test"));
    auto g = functional::GcsGuest::start(*rt_);
    ASSERT_THAT(g, IsOk());
    guest_ = std::move(*g);
    auto layer = guest_->busyboxLayer();
    ASSERT_THAT(layer, IsOk());
    busybox_ = *layer;
  }

  void TearDown() override {
    if (!guest_) return;
    for (auto& id : created_) {
      (void)run(gc().shutdownContainer(id, true));
      (void)run(gc().deleteContainerState(id));
    }
    EXPECT_EQ(guest_->stop(), 0) << "the agent shuts down cleanly";
    for (auto& id : created_) {
      EXPECT_THAT(functional::leftovers(guest_->dir() + "/state/runc", guest_->dir(), id), ::testing::IsEmpty());
    }
  }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }

  bridge::GuestConnection& gc() { return guest_->connection(); }

  // prepare mounts busybox (+ extra layers) as the container's root and creates it.
  void prepare(const std::string& id, std::vector<std::string> args, std::vector<std::string> extraLayers = {}) {
    std::string root = guest_->dir() + "/rootfs/" + id;
    bridge::CombinedLayers cl;
    cl.containerId = id;
    cl.containerRootPath = root;
    for (auto& l : extraLayers) cl.layers.push_back(bridge::Layer{l, {}});
    cl.layers.push_back(bridge::Layer{busybox_, {}});
    cl.scratchPath = guest_->dir() + "/scratch/" + id;
    ASSERT_THAT(run(gc().modifySettings(id, {bridge::resource::kCombinedLayers, "Add", schema::encode(cl), {}})), IsOk());
    auto spec = guest_->spec(root, std::move(args));
    ASSERT_THAT(spec, IsOk());
    bridge::ContainerConfig config;
    config.ociSpecification = *spec;
    ASSERT_THAT(run(gc().createContainer(id, config)), IsOk());
    ASSERT_THAT(run(gc().startContainer(id)), IsOk());
    created_.push_back(id);
  }

  void unprepare(const std::string& id) {
    ASSERT_THAT(run(gc().deleteContainerState(id)), IsOk());
    bridge::CombinedLayers cl;
    cl.containerRootPath = guest_->dir() + "/rootfs/" + id;
    EXPECT_THAT(run(gc().modifySettings(id, {bridge::resource::kCombinedLayers, "Remove", schema::encode(cl), {}})),
                HResultIs(hr::kElementNotFound))
        << "DeleteContainerState already unmounted the container's layers";
    created_.erase(std::find(created_.begin(), created_.end(), id));
    EXPECT_THAT(functional::leftovers(guest_->dir() + "/state/runc", guest_->dir(), id), ::testing::IsEmpty());
  }

  std::unique_ptr<GuestProcess> start(const std::string& cid, std::vector<std::string> args,
                                      bridge::StdioRequest stdio = {.out = true}, bool terminal = false) {
    bridge::ProcessParameters pp;
    if (!args.empty()) {
      pp.ociProcess = Json{{"args", args}, {"cwd", "/"}, {"env", {"PATH=/bin"}}, {"user", {{"uid", 0}, {"gid", 0}}}};
    }
    pp.emulateConsole = terminal;
    if (terminal) pp.consoleSize = {24, 80};
    auto p = run(gc().executeProcess(cid, pp, stdio));
    EXPECT_THAT(p, IsOk());
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::string readAll(runtime::Stream* s) {
    if (!s) return "";
    auto r = run(runtime::readToEnd(*s));
    return r.ok() ? *r : r.status().toString();
  }

  int waitExit(GuestProcess& p) {
    auto code = run(p.wait());
    EXPECT_THAT(code, IsOk());
    return code.ok() ? static_cast<int>(*code) : -1;
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::unique_ptr<functional::GcsGuest> guest_;
  std::string busybox_;
  std::vector<std::string> created_;
};

TEST_F(GcsTest, NegotiatesProtocolVersion4) {
  const auto& n = gc().negotiated();
  EXPECT_EQ(n.version, 4u);
  EXPECT_EQ(n.capabilities.runtimeOsType, "Linux");
  ASSERT_EQ(n.capabilities.supportedSchemaVersions.size(), 1u);
  EXPECT_EQ(n.capabilities.supportedSchemaVersions[0].major, 2);
  ASSERT_TRUE(n.capabilities.guestDefinedCapabilities);
  EXPECT_EQ(n.capabilities.guestDefinedCapabilities->signalProcessSupported, true);
}

TEST_F(GcsTest, EchoHelloInABusyboxContainerFromCombinedLayers) {
  prepare("hello", {"echo", "hello"});
  auto p = start("hello", {});
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->stdoutStream()), "hello\n");
  EXPECT_EQ(waitExit(*p), 0);
  auto exit = run(gc().waitForExit("hello"));
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->type, "UnexpectedExit") << "the init exited on its own";
  EXPECT_EQ(exit->result, 0);
  unprepare("hello");
}

// An init with stdin goes through runc create + start; one that exits at
// once must not have its runtime state deleted under `runc start` (which
// then fails on its exec.fifo). Many short inits in a row.
TEST_F(GcsTest, FastInitsWithStdinStartEveryTime) {
  for (int i = 0; i < 15; ++i) {
    std::string id = "fast" + std::to_string(i);
    prepare(id, {"true"});
    auto init = start(id, {}, {.in = true, .out = true});
    ASSERT_NE(init, nullptr) << "start " << i;
    EXPECT_EQ(waitExit(*init), 0);
    unprepare(id);
  }
}

TEST_F(GcsTest, ExitCodesPropagate) {
  prepare("fails", {"sh", "-c", "exit 1"});
  auto init = start("fails", {});
  EXPECT_EQ(waitExit(*init), 1);
  EXPECT_EQ(run(gc().waitForExit("fails"))->result, 1);
  unprepare("fails");

  prepare("killed", {"sleep", "1000"});
  init = start("killed", {}, {});
  ASSERT_THAT(run(init->signal(0)), IsOk()) << "signal 0 means SIGKILL on the bridge";
  EXPECT_EQ(waitExit(*init), 137);
  EXPECT_THAT(run(init->signal(SIGTERM)), HResultIs(hr::kElementNotFound)) << "it has exited";
  unprepare("killed");
}

TEST_F(GcsTest, ExecIntoARunningContainerAndSignal) {
  std::string extra = guest_->dir() + "/layers/extra";
  fs::create_directories(extra + "/etc");
  std::ofstream(extra + "/etc/greeting") << "from the top layer\n";
  prepare("svc", {"sleep", "1000"}, {extra});
  auto init = start("svc", {}, {});
  auto running = functional::leftovers(guest_->dir() + "/state/runc", guest_->dir(), "svc");
  EXPECT_THAT(running, ::testing::Contains(HasSubstr("runc state"))) << "the leak check sees a live container";
  EXPECT_THAT(running, ::testing::Contains(HasSubstr("mount ")));
  EXPECT_THAT(running, ::testing::Contains(HasSubstr("cgroup ")));
  EXPECT_THAT(running, ::testing::Contains(HasSubstr("process ")));
  auto cat = start("svc", {"cat", "/etc/greeting"});
  EXPECT_EQ(readAll(cat->stdoutStream()), "from the top layer\n");
  EXPECT_EQ(waitExit(*cat), 0);
  auto err = start("svc", {"sh", "-c", "echo oops >&2; exit 3"}, {.out = true, .err = true});
  EXPECT_EQ(readAll(err->stderrStream()), "oops\n");
  EXPECT_EQ(waitExit(*err), 3);
  // An exec without an OCI process is refused: the container already has its init.
  bridge::ProcessParameters bare;
  bare.commandArgs = {"true"};
  EXPECT_THAT(run(gc().executeProcess("svc", bare, {})), HResultIs(hr::kInvalidArg));
  // SIGTERM reaches an exec'd process; the init is PID 1 of the container,
  // which ignores signals it has no handler for - except SIGKILL.
  auto sleeper = start("svc", {"sleep", "1000"}, {});
  ASSERT_THAT(run(sleeper->signal(SIGTERM)), IsOk());
  EXPECT_EQ(waitExit(*sleeper), 143);
  ASSERT_THAT(run(init->signal(SIGKILL)), IsOk());
  EXPECT_EQ(waitExit(*init), 137);
  unprepare("svc");
}

TEST_F(GcsTest, TerminalProcessFollowsResize) {
  prepare("tty", {"sleep", "1000"});
  auto init = start("tty", {}, {});
  auto p = start("tty",
                 {"sh", "-c",
                  "stty size; while [ \"$(stty size)\" = '24 80' ]; do sleep 0.05; done; stty size; tty >/dev/null && "
                  "echo on-a-tty"},
                 {.out = true}, /*terminal=*/true);
  ASSERT_TRUE(p);
  std::string seen;
  char buf[256];
  while (seen.find("24 80") == std::string::npos) {
    auto n = run(p->stdoutStream()->read(buf));
    ASSERT_TRUE(n.ok() && *n > 0) << seen;
    seen.append(buf, *n);
  }
  ASSERT_THAT(run(p->resizeConsole(40, 120)), IsOk());
  seen += readAll(p->stdoutStream());
  EXPECT_THAT(seen, HasSubstr("40 120"));
  EXPECT_THAT(seen, HasSubstr("on-a-tty"));
  EXPECT_EQ(waitExit(*p), 0);
  EXPECT_THAT(run(init->resizeConsole(10, 10)), HResultIs(hr::kInvalidArg)) << "no terminal";
  (void)run(init->signal(SIGKILL));
  waitExit(*init);
  unprepare("tty");
}

// A client whose own terminal reports no size resizes to 0x0 (ctr run -t
// under a pipe): accepted and applied, as runc's shim does. (The size
// change shows as SIGWINCH: busybox's stty reports 0x0 as its 24x80 default.)
TEST_F(GcsTest, AZeroByZeroResizeIsAppliedNotRefused) {
  prepare("tty0", {"sleep", "1000"});
  auto init = start("tty0", {}, {});
  auto p = start("tty0", {"sh", "-c", "trap 'echo zero-size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done"},
                 {.out = true}, /*terminal=*/true);
  ASSERT_TRUE(p);
  std::string seen;
  char buf[256];
  while (seen.find("ready") == std::string::npos) {
    auto n = run(p->stdoutStream()->read(buf));
    ASSERT_TRUE(n.ok() && *n > 0) << seen;
    seen.append(buf, *n);
  }
  ASSERT_THAT(run(p->resizeConsole(0, 0)), IsOk());
  seen += readAll(p->stdoutStream());
  EXPECT_THAT(seen, HasSubstr("zero-size"));
  EXPECT_EQ(waitExit(*p), 0);
  (void)run(init->signal(SIGKILL));
  waitExit(*init);
  unprepare("tty0");
}

TEST_F(GcsTest, ClosingStdinEndsCat) {
  prepare("cat", {"sleep", "1000"});
  auto init = start("cat", {}, {});
  auto cat = start("cat", {"cat"}, {.in = true, .out = true});
  ASSERT_THAT(run(cat->stdinStream()->write("ping\n")), IsOk());
  ASSERT_THAT(cat->closeStdin(), IsOk());
  EXPECT_EQ(readAll(cat->stdoutStream()), "ping\n");
  EXPECT_EQ(waitExit(*cat), 0);
  (void)run(init->signal(SIGKILL));
  waitExit(*init);
  unprepare("cat");
}

TEST_F(GcsTest, ProcessListAndGracefulShutdown) {
  prepare("ps", {"sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done"});
  auto init = start("ps", {}, {.out = true});
  ASSERT_TRUE(init);
  // A container's init is its namespace's PID 1: a SIGTERM that comes
  // before the trap is ignored. "ready" says the trap is set.
  std::string seen;
  char buf[64];
  while (seen.find("ready") == std::string::npos) {
    auto n = run(init->stdoutStream()->read(buf));
    ASSERT_TRUE(n.ok() && *n > 0) << seen;
    seen.append(buf, *n);
  }
  auto extra = start("ps", {"sleep", "1000"}, {});
  schema::PropertyQuery q;
  q.propertyTypes = {"ProcessList"};
  auto props = run(gc().getProperties("ps", q));
  ASSERT_THAT(props, IsOk());
  std::vector<uint32_t> pids;
  for (auto& d : props->processList) pids.push_back(d.processId.value_or(0));
  EXPECT_THAT(pids, ::testing::Contains(init->pid()));
  EXPECT_THAT(pids, ::testing::Contains(extra->pid()));
  q.propertyTypes = {"Statistics"};
  props = run(gc().getProperties("ps", q));
  ASSERT_THAT(props, IsOk());
  const Json& m = props->lcowMetrics;
  EXPECT_GE(m["pids"]["current"].get<int>(), 2) << m.dump() << " (the init, its sleep, the exec)";
  EXPECT_GT(m["memory"]["usage"]["usage"].get<uint64_t>(), 0u) << m.dump();
  EXPECT_TRUE(m["cpu"]["usage"].contains("total")) << m.dump();
  q.propertyTypes = {"NoSuchThing"};
  EXPECT_THAT(run(gc().getProperties("ps", q)), HResultIs(hr::kNotImpl));

  ASSERT_THAT(run(gc().shutdownContainer("ps", false)), IsOk());
  auto exit = run(gc().waitForExit("ps"));
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->type, "GracefulExit");
  EXPECT_EQ(exit->result, 0) << "the init trapped SIGTERM and exited 0";
  EXPECT_EQ(waitExit(*extra), 137) << "the rest of the container dies with its init";
  unprepare("ps");
}

TEST_F(GcsTest, ProcessesInTheUtilityVm) {
  bridge::ProcessParameters pp;
  pp.commandArgs = {"/bin/sh", "-c", "echo in-the-uvm; exit 4"};
  auto p = run(gc().executeProcess(std::string(bridge::kUvmContainerId), pp, {.out = true}));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(readAll((*p)->stdoutStream()), "in-the-uvm\n");
  EXPECT_EQ(waitExit(**p), 4);
  auto sleeper = run(gc().executeProcess(std::string(bridge::kUvmContainerId),
                                         [] {
                                           bridge::ProcessParameters s;
                                           s.commandArgs = {"sleep", "1000"};
                                           return s;
                                         }(),
                                         {}));
  ASSERT_THAT(sleeper, IsOk());
  EXPECT_THAT(run((*sleeper)->wait(100)), HResultIs(hr::kVmcomputeTimeout)) << "WaitForProcess with a timeout";
  ASSERT_THAT(run((*sleeper)->signal(SIGKILL)), IsOk());
  EXPECT_EQ(waitExit(**sleeper), 137);
}

TEST_F(GcsTest, UnknownIdsAndHostilePathsGetPreciseErrors) {
  EXPECT_THAT(run(gc().startContainer("nope")), HResultIs(hr::kHcsSystemNotFound));
  bridge::ContainerConfig config;
  config.ociSpecification = Json{{"root", {{"path", "/etc"}}}, {"process", {{"args", {"true"}}}}};
  auto st = run(gc().createContainer("evil", config));
  EXPECT_THAT(st, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(st.message(), HasSubstr("outside the agent's mount roots"));
  config.ociSpecification["root"]["path"] = guest_->dir() + "/../../etc";
  EXPECT_THAT(run(gc().createContainer("evil", config)), HResultIs(hr::kInvalidArg));
  fs::create_directories(guest_->dir() + "/trap");
  fs::create_symlink("/etc", guest_->dir() + "/trap/link");
  config.ociSpecification["root"]["path"] = guest_->dir() + "/trap/link";
  st = run(gc().createContainer("evil", config));
  EXPECT_THAT(st.message(), HasSubstr("through a symlink"));
  EXPECT_THAT(run(gc().createContainer("../escape", config)), HResultIs(hr::kInvalidArg));
  bridge::CombinedLayers cl;
  cl.containerRootPath = "/etc";
  cl.layers = {bridge::Layer{busybox_, {}}};
  EXPECT_THAT(run(gc().modifySettings("x", {bridge::resource::kCombinedLayers, "Add", schema::encode(cl), {}})),
              HResultIs(hr::kInvalidArg));
  EXPECT_THAT(run(gc().modifySettings("x", {"Frobnicator", "Add", Json::object(), {}})), HResultIs(hr::kInvalidArg));
  EXPECT_THAT(run(gc().request(0x10109901, "x", Json::object())), HResultIs(hr::kNotImpl));
  auto bad = run(gc().request(bridge::msg::kWaitForProcess, "x", Json{{"ProcessId", "seven"}}));
  EXPECT_THAT(bad, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(bad.status().message(), HasSubstr("ProcessId"));
  EXPECT_THAT(run(gc().request(bridge::msg::kSignalProcess, "x", Json{{"ProcessId", 999999}})),
              HResultIs(hr::kElementNotFound));
  // Network requests: hostile namespace ids, NICs that are not there, wrong shapes.
  auto net = [&](const char* op, Json settings) {
    return run(gc().modifySettings(std::string(bridge::kUvmContainerId), {bridge::resource::kNetwork, op, settings, {}}));
  };
  const std::string nsid = "6f1c0c4e-0000-4000-8000-00000000abcd";
  EXPECT_THAT(net("Add", Json{{"NamespaceID", "../../etc"}, {"ID", "a1"}, {"MacAddress", "00-15-5D-00-00-01"}}),
              StatusIs(Code::kInvalidArgument, "NamespaceID: \"../../etc\" is not a namespace id"));
  EXPECT_THAT(net("Add", Json{{"NamespaceID", nsid}, {"ID", "a1"}, {"MacAddress", "00-15-5D-7F-7F-7F"}}),
              HResultIs(hr::kElementNotFound));
  EXPECT_THAT(net("Update", Json{{"NamespaceID", nsid}, {"ID", "a1"}}), HResultIs(hr::kInvalidArg));
  EXPECT_THAT(net("Add", Json("not an object")), HResultIs(hr::kInvalidArg));
  EXPECT_THAT(net("Add", Json{{"NamespaceID", nsid}, {"IPConfigs", "no"}}), StatusIs(Code::kInvalidArgument, "IPConfigs"));
  EXPECT_THAT(net("Remove", Json{{"NamespaceID", nsid}, {"ID", "a1"}}), HResultIs(hr::kElementNotFound));
  config.ociSpecification = Json{{"root", {{"path", guest_->dir()}}}, {"process", {{"args", {"true"}}}},
                                 {"windows", {{"network", {{"networkNamespace", 5}}}}}};
  EXPECT_THAT(run(gc().createContainer("netbad", config)), StatusIs(Code::kInvalidArgument, "networkNamespace"));
  EXPECT_TRUE(guest_->running());
}

// The bridge drops in the middle of a request: the host fails the pending
// call with a clear error, the agent re-dials, and the running container -
// and an exit that happened while nobody was connected - survive.
TEST_F(GcsTest, DisconnectMidRequestAgentRedialsContainersSurvive) {
  prepare("survivor", {"sleep", "1000"});
  auto init = start("survivor", {}, {});
  const uint32_t pid = init->pid();
  bool done = false;
  StatusOr<uint32_t> waited = 0u;
  runtime::spawn([](GuestProcess& p, StatusOr<uint32_t>& out, bool& done) -> Task<void> {
    out = co_await p.wait();
    done = true;
  }(*init, waited, done));
  runtime::drain(rt_->loop());
  EXPECT_EQ(gc().pendingRequests(), 1u) << "WaitForProcess is in flight";
  gc().close();  // the connection is gone mid-request
  rt_->loop().runUntil([&] { return done; });
  EXPECT_THAT(waited, HResultIs(hr::kHcsConnectionClosed));
  EXPECT_EQ(waited.status().op(), "WaitForProcess");
  EXPECT_EQ(waited.status().id(), "test-vm");

  // While nobody is connected the container's init dies (killed on the host:
  // the agent runs as a host process here); its exit notification waits.
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
  auto again = guest_->acceptAgain();
  ASSERT_THAT(again, IsOk()) << "the agent re-dialled";
  auto exit = run((*again)->waitForExit("survivor"));
  ASSERT_THAT(exit, IsOk()) << "the queued exit notification arrives on the new connection";
  EXPECT_EQ(exit->result, 137);
  auto code = run((*again)->request(bridge::msg::kWaitForProcess, "survivor", Json{{"ProcessId", pid}}));
  ASSERT_THAT(code, IsOk()) << "the process is still known to the agent";
  EXPECT_EQ((*parseJson(*code))["ExitCode"], 137);
  init.reset();
  ASSERT_THAT(run((*again)->deleteContainerState("survivor")), IsOk());
  created_.clear();
  EXPECT_THAT(functional::leftovers(guest_->dir() + "/state/runc", guest_->dir(), "survivor"), ::testing::IsEmpty());
}

// Hot-added storage: an ext4 image as a SCSI disk and as a VPMem device
// (loop-mounted, as in a simulated VM), and a Plan9 share - each readable by
// a guest process, read-only where asked, and gone (mount and loop device)
// after Remove.
TEST_F(GcsTest, DisksAndSharesMountAndUnmount) {
  std::string src = guest_->dir() + "/disk-src";
  fs::create_directories(src);
  std::ofstream(src + "/hello.txt") << "on the disk\n";
  std::string image = guest_->dir() + "/disk.img";
  runtime::ProcessSpec mkfs{.path = "mkfs.ext4", .args = {"mkfs.ext4", "-q", "-F", "-d", src, image, "8M"}};
  ASSERT_EQ(run([](runtime::Runtime& rt, runtime::ProcessSpec spec) -> Task<int> {
              auto p = rt.processes().spawn(spec);
              if (!p.ok()) co_return -1;
              co_return (co_await (*p)->wait()).exitCode;
            }(*rt_, mkfs)),
            0)
      << "mkfs.ext4 (e2fsprogs)";
  fs::create_directories(guest_->dir() + "/scsi/0");
  fs::copy_file(image, guest_->dir() + "/scsi/0/3");
  fs::create_directories(guest_->dir() + "/pmem");
  fs::copy_file(image, guest_->dir() + "/pmem/0");
  fs::create_directories(guest_->dir() + "/shares/s1");
  std::ofstream(guest_->dir() + "/shares/s1/hello.txt") << "on the share\n";

  auto uvmRun = [&](std::string script) {
    bridge::ProcessParameters pp;
    pp.commandArgs = {"/bin/sh", "-c", script};
    auto p = run(gc().executeProcess(std::string(bridge::kUvmContainerId), pp, {.out = true, .err = true}));
    EXPECT_THAT(p, IsOk());
    if (!p.ok()) return std::make_pair(-1, std::string());
    std::string out = readAll((*p)->stdoutStream()) + readAll((*p)->stderrStream());
    return std::make_pair(waitExit(**p), out);
  };
  auto modify = [&](const char* type, const char* op, Json settings) {
    return run(gc().modifySettings(std::string(bridge::kUvmContainerId), {type, op, settings, {}}));
  };
  const std::string scsiAt = guest_->dir() + "/mounts/scsi/m0", pmemAt = guest_->dir() + "/mounts/pmem/0",
                    shareAt = guest_->dir() + "/mounts/share";
  Json disk = {{"MountPath", scsiAt}, {"Controller", 0}, {"Lun", 3}, {"ReadOnly", true}};
  ASSERT_THAT(modify(bridge::resource::kMappedVirtualDisk, "Add", disk), IsOk());
  EXPECT_THAT(modify(bridge::resource::kMappedVirtualDisk, "Add", disk), HResultIs(hr::kAlreadyExists));
  auto [code, out] = uvmRun("cat " + scsiAt + "/hello.txt; touch " + scsiAt + "/new");
  EXPECT_THAT(out, HasSubstr("on the disk"));
  EXPECT_THAT(out, HasSubstr("Read-only file system"));
  EXPECT_NE(code, 0);

  Json pmem = {{"DeviceNumber", 0}, {"MountPath", pmemAt}};
  ASSERT_THAT(modify(bridge::resource::kVPMemDevice, "Add", pmem), IsOk());
  Json share = {{"MountPath", shareAt}, {"ShareName", "s1"}, {"ReadOnly", true}, {"Port", 564}};
  ASSERT_THAT(modify(bridge::resource::kMappedDirectory, "Add", share), IsOk());
  std::tie(code, out) = uvmRun("cat " + pmemAt + "/hello.txt " + shareAt + "/hello.txt");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "on the disk\non the share\n");
  EXPECT_THAT(uvmRun("touch " + shareAt + "/new").first, ::testing::Ne(0)) << "read-only share";

  int loops = 0;
  std::error_code lec;
  for (const auto& b : fs::directory_iterator("/sys/block", lec)) {
    std::ifstream backing(b.path() / "loop" / "backing_file");
    std::string file;
    if (std::getline(backing, file) && file.find(guest_->dir()) != std::string::npos) ++loops;
  }
  EXPECT_EQ(loops, 2) << "the SCSI disk and the VPMem device are loop devices while mounted";

  // Wrong coordinates and hostile paths.
  EXPECT_THAT(modify(bridge::resource::kMappedVirtualDisk, "Add",
                     {{"MountPath", guest_->dir() + "/m1"}, {"Controller", 0}, {"Lun", 64}}),
              HResultIs(hr::kInvalidArg));
  EXPECT_THAT(modify(bridge::resource::kMappedVirtualDisk, "Add",
                     {{"MountPath", guest_->dir() + "/m1"}, {"Controller", 0}, {"Lun", 5}}),
              HResultIs(hr::kElementNotFound));
  EXPECT_THAT(modify(bridge::resource::kMappedVirtualDisk, "Add", {{"MountPath", "/etc"}, {"Controller", 0}, {"Lun", 3}}),
              HResultIs(hr::kInvalidArg));
  EXPECT_THAT(modify(bridge::resource::kMappedDirectory, "Add", {{"MountPath", shareAt + "2"}, {"ShareName", "../s1"}}),
              HResultIs(hr::kInvalidArg));

  ASSERT_THAT(modify(bridge::resource::kMappedVirtualDisk, "Remove", disk), IsOk());
  EXPECT_THAT(modify(bridge::resource::kMappedVirtualDisk, "Remove", disk), HResultIs(hr::kElementNotFound));
  ASSERT_THAT(modify(bridge::resource::kVPMemDevice, "Remove", pmem), IsOk());
  ASSERT_THAT(modify(bridge::resource::kMappedDirectory, "Remove", share), IsOk());
  EXPECT_THAT(functional::leftovers(guest_->dir() + "/state/runc", guest_->dir(), "none"), ::testing::IsEmpty());
  // The loop devices went with their mounts.
  std::error_code ec;
  for (const auto& b : fs::directory_iterator("/sys/block", ec)) {
    std::ifstream backing(b.path() / "loop" / "backing_file");
    std::string file;
    if (std::getline(backing, file)) {
      EXPECT_EQ(file.find(guest_->dir()), std::string::npos) << b.path() << " -> " << file;
    }
  }
}

// Shutting the UVM itself down (its own id): the agent answers, takes its
// containers down and exits on its own.
TEST_F(GcsTest, ShuttingTheUtilityVmDownStopsTheAgent) {
  prepare("last", {"sleep", "1000"});
  auto init = start("last", {}, {});
  ASSERT_THAT(run(gc().shutdownContainer(std::string(bridge::kUvmContainerId), false)), IsOk());
  auto exit = run(guest_->process().wait());
  EXPECT_EQ(exit.exitCode, 0) << "the agent exited by itself, cleanly";
  EXPECT_THAT(functional::leftovers(guest_->dir() + "/state/runc", guest_->dir(), "last"), ::testing::IsEmpty());
  EXPECT_NE(::kill(static_cast<pid_t>(init->pid()), 0), 0) << "the container's init is gone";
  created_.clear();
}

}  // namespace
}  // namespace hcsshim
