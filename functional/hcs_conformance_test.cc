// HCS API conformance scenarios, written only against hcs::HcsApi (through
// the ComputeSystem/Process client). Each scenario runs against every
// backend: today the in-process fake HCS; the hcs_fake daemon (through
// platforms/linux) and real Hyper-V plug in as further parameters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "functional/harness/hcs_fake_daemon.h"
#include "hcs_fake/daemon_service.h"
#include "hcs_fake/owner.h"
#include "hcs_fake/service.h"
#include "platforms/linux/daemon_hcs.h"
#include "src/common/status_matchers.h"
#include "src/hcs/compute_system.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/wait_for.h"

namespace hcsshim::functional {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using hcs::ComputeSystem;
using hcs::Process;
using runtime::Task;
namespace hr = hresult;

// Backend: one way of reaching HCS.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual hcs::HcsApi& api() = 0;
  // secondClient: another, independent client session (a second process on Windows).
  virtual std::unique_ptr<hcs::HcsApi> secondClient() = 0;
  // stopAll ends every compute system and waits until nothing runs.
  virtual Task<void> stopAll() = 0;
  // dropClient disconnects a client as if its process died (false if the
  // backend has no separate client connection).
  virtual bool dropClient(hcs::HcsApi&) { return false; }
  // stopService stops the HCS service itself (false where it cannot be stopped).
  virtual bool stopService() { return false; }
};

// freezer: what the daemon gives its service (Container systems pause
// through a cgroup of their own).
std::unique_ptr<hcs_fake::Freezer> freezer(runtime::Runtime& rt) {
  return std::make_unique<hcs_fake::CgroupFreezer>(rt.loop(), "/sys/fs/cgroup", "/hcs-fake-" + hcs_fake::ownerNameOf(getpid()));
}

class InProcessBackend : public Backend {
 public:
  explicit InProcessBackend(runtime::Runtime& rt) : service_(rt, nullptr, freezer(rt)), api_(service_) {}
  hcs::HcsApi& api() override { return api_; }
  std::unique_ptr<hcs::HcsApi> secondClient() override { return std::make_unique<hcs_fake::InProcessHcs>(service_); }
  Task<void> stopAll() override { return service_.shutdownService(); }

 private:
  hcs_fake::FakeHcsService service_;
  hcs_fake::InProcessHcs api_;
};

// WireBackend: the daemon's service served over a real unix socket (in this
// process, on the same loop), reached through platforms/linux's DaemonHcs.
class WireBackend : public Backend {
 public:
  WireBackend(runtime::Runtime& rt, const std::string& dir) : rt_(rt), service_(rt, nullptr, freezer(rt)), server_(rt) {
    std::filesystem::create_directories(dir + "/stdio");
    daemon_ = std::make_unique<hcs_fake::DaemonService>(rt, service_, server_, dir + "/stdio");
    address_ = "unix://" + dir + "/hcs.sock";
    auto l = rt.transport().listen(address_);
    EXPECT_THAT(l, IsOk());
    runtime::spawn([](ttrpc::Server& s, std::unique_ptr<runtime::Listener> l) -> Task<void> {
      (void)co_await s.serve(std::move(l));
    }(server_, std::move(*l)));
    api_ = connect();
  }
  ~WireBackend() override {
    api_.reset();
    server_.shutdown();
    rt_.loop().runUntil([&] {
      return server_.connectionCount() == 0 && server_.activeCalls() == 0 && daemon_->activeRelays() == 0;
    });
  }
  hcs::HcsApi& api() override { return *api_; }
  std::unique_ptr<hcs::HcsApi> secondClient() override { return connect(); }
  Task<void> stopAll() override { return service_.shutdownService(); }
  bool dropClient(hcs::HcsApi& api) override {
    static_cast<platforms::DaemonHcs&>(api).disconnect();
    return true;
  }

 private:
  std::unique_ptr<platforms::DaemonHcs> connect() {
    auto c = runtime::blockOn(rt_.loop(), platforms::DaemonHcs::connect(rt_, address_));
    EXPECT_THAT(c, IsOk());
    return std::move(*c);
  }
  runtime::Runtime& rt_;
  hcs_fake::FakeHcsService service_;
  ttrpc::Server server_;
  std::unique_ptr<hcs_fake::DaemonService> daemon_;
  std::string address_;
  std::unique_ptr<platforms::DaemonHcs> api_;
};

// BinaryBackend: the hcs_fake daemon binary as its own process.
class BinaryBackend : public Backend {
 public:
  BinaryBackend(runtime::Runtime& rt, const std::string& dir) : rt_(rt) {
    auto d = HcsFakeDaemon::start(rt, dir);
    EXPECT_THAT(d, IsOk());
    daemon_ = std::move(*d);
    address_ = daemon_->address();
    auto c = runtime::blockOn(rt.loop(), platforms::DaemonHcs::connect(rt, address_));
    EXPECT_THAT(c, IsOk());
    api_ = std::move(*c);
  }
  ~BinaryBackend() override {
    api_.reset();
    stopService();
  }
  hcs::HcsApi& api() override { return *api_; }
  std::unique_ptr<hcs::HcsApi> secondClient() override {
    auto c = runtime::blockOn(rt_.loop(), platforms::DaemonHcs::connect(rt_, address_));
    EXPECT_THAT(c, IsOk());
    return std::move(*c);
  }
  Task<void> stopAll() override {
    // Terminate whatever is left through the API, as an administrator would.
    auto list = co_await api_->enumerateComputeSystems("");
    if (!list.ok()) co_return;
    for (auto& entry : *parseJson(*list)) {
      auto h = co_await api_->openComputeSystem(entry["Id"].get<std::string>());
      if (!h.ok()) continue;
      (void)co_await api_->terminateComputeSystem(*h, "");
      api_->closeComputeSystem(*h);
    }
  }
  bool dropClient(hcs::HcsApi& api) override {
    static_cast<platforms::DaemonHcs&>(api).disconnect();
    return true;
  }
  bool stopService() override {
    if (!daemon_->running()) return true;
    EXPECT_EQ(daemon_->stop(), 0) << "hcs_fake exits cleanly on SIGTERM";
    return true;
  }

 private:
  runtime::Runtime& rt_;
  std::string address_;
  std::unique_ptr<HcsFakeDaemon> daemon_;
  std::unique_ptr<platforms::DaemonHcs> api_;
};

std::string containerDoc(bool terminateOnLastHandleClosed = false, const std::string& owner = "conformance") {
  Json doc = {{"Owner", owner},
              {"SchemaVersion", {{"Major", 2}, {"Minor", 1}}},
              {"Container", {{"GuestOs", {{"HostName", "conformance"}}}}}};
  if (terminateOnLastHandleClosed) doc["ShouldTerminateOnLastHandleClosed"] = true;
  return doc.dump();
}

class HcsConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // tools/conformance/run --backend=<inprocess|wire|daemon> narrows the run
    // to one way of reaching the fake; "fake" (the default) and "qemu" (the
    // fake with QEMU VMs) run them all.
    const char* only = std::getenv("HCS_BACKEND");
    bool all = !only || !*only || std::string(only) == "fake" || std::string(only) == "qemu";
    if (!all && std::string(only) != GetParam()) {
      GTEST_SKIP() << "backend " << GetParam() << " not selected (HCS_BACKEND=" << only << ")";
    }
    rt_ = std::move(*runtime::RealRuntime::create("hcs-conformance"));
    char tmpl[] = "/tmp/hcs-conf-XXXXXX";
    dir_ = mkdtemp(tmpl);
    if (GetParam() == "wire") {
      backend_ = std::make_unique<WireBackend>(*rt_, dir_ + "/daemon");
    } else if (GetParam() == "daemon") {
      backend_ = std::make_unique<BinaryBackend>(*rt_, dir_);
    } else {
      backend_ = std::make_unique<InProcessBackend>(*rt_);
    }
    prefix_ = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (auto& c : prefix_) {
      if (c == '/') c = '-';
    }
  }
  void TearDown() override {
    if (!backend_) return;
    run(backend_->stopAll());
    systems_.clear();
    backend_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }

  std::string id(const std::string& suffix) { return prefix_ + "-" + suffix; }

  // Creates a container compute system; the fixture closes it at teardown.
  ComputeSystem& create(const std::string& name, const std::string& doc) {
    auto cs = run(ComputeSystem::create(backend_->api(), rt_->loop(), id(name), doc));
    EXPECT_THAT(cs, IsOk());
    systems_.push_back(std::move(*cs));
    return *systems_.back();
  }
  ComputeSystem& running(const std::string& name) {
    ComputeSystem& cs = create(name, containerDoc());
    EXPECT_THAT(run(cs.start()), IsOk());
    return cs;
  }

  std::string stateOf(ComputeSystem& cs) {
    auto p = run(cs.properties());
    return p.ok() ? p->state.value_or("?") : p.status().toString();
  }

  // The fake's Configuration property: the document with every Modify applied.
  Json configuration(ComputeSystem& cs) {
    auto p = run(cs.properties({schema::kConfigurationPropertyType}));
    EXPECT_THAT(p, IsOk());
    return p.ok() ? p->configuration : Json();
  }

  std::unique_ptr<Process> spawn(ComputeSystem& cs, std::vector<std::string> args, bool in = false, bool out = true,
                                 bool err = false) {
    schema::ProcessParameters pp;
    pp.commandArgs = std::move(args);
    pp.createStdInPipe = in;
    pp.createStdOutPipe = out;
    pp.createStdErrPipe = err;
    auto p = run(cs.createProcess(pp));
    EXPECT_THAT(p, IsOk());
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::string readAll(runtime::Stream* s) {
    auto r = run(runtime::readToEnd(*s));
    return r.ok() ? *r : r.status().toString();
  }

  std::string writeFile(const std::string& name, const std::string& content = "x") {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  // vmDoc: a utility VM. Under HCS_BACKEND=qemu the daemon boots it: the
  // guest image with the agent as init (no host listens; it powers off when
  // HCS shuts the VM down); otherwise the boot files are only checked.
  std::string vmDoc() {
    bool qemu = GetParam() == "daemon" && HcsFakeDaemon::backend() == "qemu";
    std::string boot = HcsFakeDaemon::runfile("tools/guest_image/LinuxBootFiles/");
    Json doc = {{"Owner", "conformance"},
                {"SchemaVersion", {{"Major", 2}, {"Minor", 1}}},
                {"VirtualMachine",
                 {{"StopOnReset", true},
                  {"Chipset", {{"LinuxKernelDirect", {{"KernelFilePath", qemu ? boot + "vmlinux" : writeFile("vmlinux")},
                                                      {"InitRdPath", qemu ? boot + "initrd.img" : writeFile("initrd.img")},
                                                      {"KernelCmdLine", qemu ? "panic=-1 quiet -- /bin/gcs --init"
                                                                             : "panic=-1 quiet"}}}}},
                  {"ComputeTopology", {{"Memory", {{"SizeInMB", 1024}}}, {"Processor", {{"Count", 2}}}}},
                  {"Devices",
                   {{"Scsi", {{"df6d0690-79e5-55b6-a5ec-c1e2f77f580a", {{"Attachments", Json::object()}}}}},
                    {"VirtualPMem", {{"MaximumCount", 4}}}}}}}};
    return doc.dump();
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::unique_ptr<Backend> backend_;
  std::vector<std::unique_ptr<ComputeSystem>> systems_;
  std::string dir_;
  std::string prefix_;
};

// ---- Lifecycle ----

TEST_P(HcsConformanceTest, LifecycleCreateStartShutdown) {
  ComputeSystem& cs = create("c", containerDoc());
  EXPECT_EQ(stateOf(cs), "Created");
  ASSERT_THAT(run(cs.start()), IsOk());
  EXPECT_EQ(stateOf(cs), "Running");
  ASSERT_THAT(run(cs.shutdown()), IsOk());
  hcs::SystemExit exit = run(cs.wait());
  EXPECT_EQ(exit.exitType, "GracefulExit");
  EXPECT_EQ(exit.status, 0u);
  auto props = run(cs.properties());
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->state, "Stopped");
  EXPECT_TRUE(props->stopped.value_or(false));
  EXPECT_EQ(props->exitType, "GracefulExit");
  EXPECT_EQ(props->systemType, "Container");
}

TEST_P(HcsConformanceTest, TerminateIsAForcedExit) {
  ComputeSystem& cs = running("c");
  ASSERT_THAT(run(cs.terminate()), IsOk());
  EXPECT_EQ(run(cs.wait()).exitType, "ForcedExit");
}

// Pause stops every process of the container - also the ones its processes
// started, which HCS never saw - and Resume lets them go on: a counter kept
// by a grandchild does not advance while paused and does after.
TEST_P(HcsConformanceTest, PauseFreezesEveryProcessAndResumeThawsThem) {
  if (geteuid() != 0) GTEST_SKIP() << "freezing a container needs a cgroup freezer (root)";
  ComputeSystem& cs = running("c");
  std::string counter = dir_ + "/counter";
  auto p = spawn(cs, {"/bin/sh", "-c", "(i=0; while :; do i=$((i+1)); echo $i > " + counter + ".tmp; mv " + counter +
                                           ".tmp " + counter + "; done) & wait"},
                 false, false);
  ASSERT_TRUE(p);
  auto value = [&] { return std::atol(runtime::readFile(counter, 64).value_or("0").c_str()); };
  auto advances = [&](runtime::Duration within) {
    long from = value();
    return runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] { return value() > from + 10; }, within));
  };
  ASSERT_TRUE(advances(std::chrono::seconds(10))) << "the counter runs before the pause";
  ASSERT_THAT(run(cs.pause()), IsOk());
  EXPECT_EQ(stateOf(cs), "Paused");
  long frozenAt = value();
  // Observed for a while: nothing of the container may make progress.
  EXPECT_FALSE(advances(std::chrono::milliseconds(500))) << "the grandchild kept counting while paused";
  EXPECT_EQ(value(), frozenAt);
  EXPECT_THAT(run(cs.save()), IsOk());
  ASSERT_THAT(run(cs.resume()), IsOk());
  EXPECT_EQ(stateOf(cs), "Running");
  EXPECT_TRUE(advances(std::chrono::seconds(10))) << "the counter goes on after resume";
  // A paused container can still be terminated (its frozen processes die).
  ASSERT_THAT(run(cs.pause()), IsOk());
  ASSERT_THAT(run(cs.terminate()), IsOk());
  EXPECT_EQ(run(cs.wait()).exitType, "ForcedExit");
}

struct Transition {
  std::string from;
  std::string op;
  HResult want;  // 0 = succeeds
};

TEST_P(HcsConformanceTest, EveryTransitionFromEveryState) {
  const std::vector<Transition> table = {
      {"Created", "Start", 0},
      {"Created", "Pause", hr::kHcsInvalidState},
      {"Created", "Resume", hr::kHcsInvalidState},
      {"Created", "Save", hr::kHcsInvalidState},
      {"Created", "Shutdown", 0},
      {"Created", "Terminate", 0},
      {"Running", "Start", hr::kHcsInvalidState},
      {"Running", "Pause", 0},
      {"Running", "Resume", hr::kHcsInvalidState},
      {"Running", "Save", hr::kHcsInvalidState},
      {"Running", "Shutdown", 0},
      {"Running", "Terminate", 0},
      {"Paused", "Start", hr::kHcsInvalidState},
      {"Paused", "Pause", hr::kHcsInvalidState},
      {"Paused", "Resume", 0},
      {"Paused", "Save", 0},
      {"Paused", "Shutdown", hr::kHcsInvalidState},
      {"Paused", "Terminate", 0},
      {"Stopped", "Start", hr::kHcsInvalidState},
      {"Stopped", "Pause", hr::kHcsInvalidState},
      {"Stopped", "Resume", hr::kHcsInvalidState},
      {"Stopped", "Save", hr::kHcsInvalidState},
      {"Stopped", "Shutdown", hr::kHcsSystemAlreadyStopped},
      {"Stopped", "Terminate", hr::kHcsSystemAlreadyStopped},
  };
  int n = 0;
  for (const auto& t : table) {
    SCOPED_TRACE(t.from + " -> " + t.op);
    ComputeSystem& cs = create("t" + std::to_string(n++), containerDoc());
    if (t.from != "Created") {
      ASSERT_THAT(run(cs.start()), IsOk());
    }
    if (t.from == "Paused") {
      ASSERT_THAT(run(cs.pause()), IsOk());
    }
    if (t.from == "Stopped") {
      ASSERT_THAT(run(cs.terminate()), IsOk());
    }
    ASSERT_EQ(stateOf(cs), t.from);
    Status st;
    if (t.op == "Start") st = run(cs.start());
    if (t.op == "Pause") st = run(cs.pause());
    if (t.op == "Resume") st = run(cs.resume());
    if (t.op == "Save") st = run(cs.save());
    if (t.op == "Shutdown") st = run(cs.shutdown());
    if (t.op == "Terminate") st = run(cs.terminate());
    if (t.want == 0) {
      EXPECT_THAT(st, IsOk());
    } else {
      EXPECT_THAT(st, HResultIs(t.want));
      EXPECT_EQ(st.op(), t.op);
      EXPECT_EQ(st.id(), cs.id());
      EXPECT_EQ(stateOf(cs), t.from) << "a refused operation changes nothing";
    }
  }
}

// ---- Errors ----

TEST_P(HcsConformanceTest, ErrorCodes) {
  auto missing = run(ComputeSystem::open(backend_->api(), rt_->loop(), id("nope")));
  EXPECT_THAT(missing, HResultIs(hr::kHcsSystemNotFound));
  create("dup", containerDoc());
  auto dup = run(ComputeSystem::create(backend_->api(), rt_->loop(), id("dup"), containerDoc()));
  EXPECT_THAT(dup, HResultIs(hr::kHcsSystemAlreadyExists));
  auto malformed = run(ComputeSystem::create(backend_->api(), rt_->loop(), id("bad"), "{\"Owner\": "));
  EXPECT_THAT(malformed, HResultIs(hr::kHcsInvalidJson));
  EXPECT_THAT(malformed.status().message(), ::testing::HasSubstr("invalid JSON at byte"));
  auto mistyped = run(ComputeSystem::create(backend_->api(), rt_->loop(), id("bad2"),
                                            R"({"Container":{"Memory":{"SizeInMB":"lots"}}})"));
  EXPECT_THAT(mistyped, HResultIs(hr::kHcsInvalidJson));
  EXPECT_THAT(mistyped.status().message(), ::testing::HasSubstr("Container.Memory.SizeInMB: want unsigned integer"));
  auto neither = run(ComputeSystem::create(backend_->api(), rt_->loop(), id("bad3"), R"({"Owner":"x"})"));
  EXPECT_THAT(neither, HResultIs(hr::kHcsInvalidJson));
  // Nothing half-created was left behind.
  EXPECT_THAT(run(ComputeSystem::open(backend_->api(), rt_->loop(), id("bad"))), HResultIs(hr::kHcsSystemNotFound));
}

TEST_P(HcsConformanceTest, FailuresCarryErrorEvents) {
  ComputeSystem& cs = create("c", containerDoc());
  Status st = run(cs.pause());
  ASSERT_THAT(st, HResultIs(hr::kHcsInvalidState));
  ASSERT_FALSE(st.errorEvents().empty()) << st;
  auto events = schema::decode<std::vector<schema::ErrorEvent>>(*parseJson(st.errorEvents()));
  ASSERT_THAT(events, IsOk());
  ASSERT_GE(events->size(), 1u);
  EXPECT_FALSE(events->front().message.value_or("").empty());
}

TEST_P(HcsConformanceTest, ClosedHandleIsInvalid) {
  ComputeSystem& cs = running("c");
  cs.close();
  EXPECT_THAT(run(cs.pause()), HResultIs(hr::kInvalidHandle));
  // The system itself lives on (systems outlive handles).
  auto again = run(ComputeSystem::open(backend_->api(), rt_->loop(), cs.id()));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(stateOf(**again), "Running");
  EXPECT_THAT(run((*again)->terminate()), IsOk());
}

// ---- Notifications ----

TEST_P(HcsConformanceTest, SystemExitedIsDeliveredToEveryHandleOnce) {
  ComputeSystem& a = running("c");
  auto other = backend_->secondClient();
  auto b = run(ComputeSystem::open(*other, rt_->loop(), a.id()));
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(run(a.terminate()), IsOk());
  EXPECT_EQ(run(a.wait()).exitType, "ForcedExit");
  EXPECT_EQ(run((*b)->wait()).exitType, "ForcedExit");
  (*b)->close();
}

// ---- Processes ----

TEST_P(HcsConformanceTest, ProcessExitCodesAndStdio) {
  ComputeSystem& cs = running("c");
  auto p = spawn(cs, {"/bin/sh", "-c", "echo hello; echo oops >&2; exit 7"}, false, true, true);
  ASSERT_NE(p, nullptr);
  EXPECT_GT(p->pid(), 0u);
  EXPECT_EQ(readAll(p->stdoutStream()), "hello\n");
  EXPECT_EQ(readAll(p->stderrStream()), "oops\n");
  EXPECT_EQ(run(p->wait()), 7);
  EXPECT_EQ(p->exitCode(), 7);
  auto props = run(p->properties());
  ASSERT_THAT(props, IsOk());
  EXPECT_TRUE(props->exited.value_or(false));
  EXPECT_EQ(props->exitCode, 7u);
}

TEST_P(HcsConformanceTest, ExitCodeIsMinusOneUntilExit) {
  ComputeSystem& cs = running("c");
  auto p = spawn(cs, {"sleep", "1000"}, false, false);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->exitCode(), -1);
  auto props = run(p->properties());
  ASSERT_THAT(props, IsOk());
  EXPECT_FALSE(props->exited.value_or(true));
  EXPECT_EQ(props->exitCode, 0xFFFFFFFFu);
  ASSERT_THAT(run(p->kill()), IsOk());
  EXPECT_EQ(run(p->wait()), 137);
}

TEST_P(HcsConformanceTest, CloseStdinEndsCat) {
  ComputeSystem& cs = running("c");
  auto p = spawn(cs, {"cat"}, true, true);
  ASSERT_NE(p, nullptr);
  ASSERT_THAT(run(p->stdinStream()->write("through the pipe\n")), IsOk());
  ASSERT_THAT(run(p->closeStdin()), IsOk());
  EXPECT_EQ(readAll(p->stdoutStream()), "through the pipe\n");
  EXPECT_EQ(run(p->wait()), 0);
}

TEST_P(HcsConformanceTest, SignalsAndKill) {
  ComputeSystem& cs = running("c");
  auto p = spawn(cs, {"/bin/sh", "-c", "trap 'exit 43' TERM; echo ready; while :; do sleep 0.05; done"});
  ASSERT_NE(p, nullptr);
  char buf[16];
  ASSERT_THAT(run(p->stdoutStream()->read(buf)), IsOk());  // "ready": the trap is installed
  ASSERT_THAT(run(p->signal(SIGTERM)), IsOk());
  EXPECT_EQ(run(p->wait()), 43);
  EXPECT_THAT(run(p->signal(SIGTERM)), HResultIs(hr::kHcsProcessAlreadyStopped));
  EXPECT_THAT(run(p->kill()), IsOk()) << "killing an exited process is not an error";
  auto q = spawn(cs, {"sleep", "1000"}, false, false);
  ASSERT_THAT(run(q->signal(SIGKILL)), IsOk());
  EXPECT_EQ(run(q->wait()), 137);
}

TEST_P(HcsConformanceTest, ConsoleProcessSizeResizeAndStdinClose) {
  ComputeSystem& cs = running("c");
  schema::ProcessParameters pp;
  pp.commandArgs = {"/bin/sh", "-c", "stty size; read a; stty size; read b; echo eof:$?"};
  pp.emulateConsole = true;
  pp.createStdInPipe = true;
  pp.createStdOutPipe = true;
  pp.consoleSize = {30, 100};
  auto p = run(cs.createProcess(pp));
  ASSERT_THAT(p, IsOk());
  ASSERT_NE((*p)->stdinStream(), nullptr);
  EXPECT_EQ((*p)->stderrStream(), nullptr) << "a console has no separate stderr";
  auto readUntil = [&](const std::string& want) {
    return run([](runtime::Stream* s, std::string want) -> Task<std::string> {
      std::string all;
      char buf[256];
      while (all.find(want) == std::string::npos) {
        auto n = co_await s->read(buf);
        if (!n.ok() || *n == 0) break;
        all.append(buf, *n);
      }
      co_return all;
    }((*p)->stdoutStream(), want));
  };
  EXPECT_THAT(readUntil("30 100"), ::testing::HasSubstr("30 100"));
  ASSERT_THAT(run((*p)->resizeConsole(50, 132)), IsOk());
  ASSERT_THAT(run((*p)->stdinStream()->write("x\n")), IsOk());
  EXPECT_THAT(readUntil("50 132"), ::testing::HasSubstr("50 132"));
  ASSERT_THAT(run((*p)->closeStdin()), IsOk());
  EXPECT_THAT(readUntil("eof:1"), ::testing::HasSubstr("eof:1"));
  EXPECT_EQ(run((*p)->wait()), 0);
  EXPECT_THAT(run((*p)->resizeConsole(10, 10)), HResultIs(hr::kHcsProcessAlreadyStopped));
  auto plain = spawn(cs, {"true"}, false, false);
  run(plain->wait());
  EXPECT_THAT(run(plain->resizeConsole(10, 10)), HResultIs(hr::kInvalidHandle)) << "no console";
}

TEST_P(HcsConformanceTest, ProcessesOfAContainerShareItsNamespaces) {
  ComputeSystem& a = running("a");
  ComputeSystem& b = running("b");
  auto nsOf = [&](ComputeSystem& cs) {
    auto p = spawn(cs, {"/bin/sh", "-c", "readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/uts"});
    std::string out = readAll(p->stdoutStream());
    run(p->wait());
    return out;
  };
  std::string a1 = nsOf(a), a2 = nsOf(a), b1 = nsOf(b);
  EXPECT_EQ(a1, a2) << "every process of one container is in the same namespaces";
  char self[64] = {0};
  ssize_t n = readlink("/proc/self/ns/pid", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  if (a1.find(self) != std::string::npos) GTEST_SKIP() << "containers are not isolated here (needs root)";
  EXPECT_NE(a1, b1) << "two containers do not share namespaces";
}

TEST_P(HcsConformanceTest, ProcessErrors) {
  ComputeSystem& cs = create("c", containerDoc());
  schema::ProcessParameters pp;
  pp.commandArgs = {"true"};
  EXPECT_THAT(run(cs.createProcess(pp)), HResultIs(hr::kHcsInvalidState)) << "not started";
  ASSERT_THAT(run(cs.start()), IsOk());
  pp.commandArgs = {"/nonexistent/program"};
  EXPECT_THAT(run(cs.createProcess(pp)), HResultIs(hr::kFileNotFound));
  pp.commandArgs = {};
  EXPECT_THAT(run(cs.createProcess(pp)), HResultIs(hr::kInvalidArg));
  EXPECT_THAT(run(cs.openProcess(999999)), HResultIs(hr::kElementNotFound));
}

// Terminate and Shutdown end what runs: the processes' exits are reported
// and they are gone from the host, not just a state that says Stopped.
TEST_P(HcsConformanceTest, TerminatingTheSystemEndsItsProcesses) {
  ComputeSystem& cs = running("c");
  auto p = spawn(cs, {"sleep", "1000"}, false, false);
  ASSERT_TRUE(p);
  ASSERT_THAT(run(cs.terminate()), IsOk());
  EXPECT_EQ(run(p->wait()), 137);
  std::string proc = "/proc/" + std::to_string(p->pid());
  EXPECT_TRUE(runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] { return !std::filesystem::exists(proc); },
                                                          std::chrono::seconds(10))))
      << "process " << p->pid() << " is still on the host";
}

TEST_P(HcsConformanceTest, ShutdownEndsItsProcesses) {
  ComputeSystem& cs = running("c");
  auto p = spawn(cs, {"sleep", "1000"}, false, false);
  ASSERT_TRUE(p);
  ASSERT_THAT(run(cs.shutdown()), IsOk());
  EXPECT_EQ(run(cs.wait()).exitType, "GracefulExit");
  EXPECT_EQ(run(p->wait()), 128 + SIGTERM) << "asked to end (SIGTERM), as a graceful shutdown does";
  std::string proc = "/proc/" + std::to_string(p->pid());
  EXPECT_TRUE(runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] { return !std::filesystem::exists(proc); },
                                                          std::chrono::seconds(10))))
      << "process " << p->pid() << " is still on the host";
}

// ---- Properties ----

TEST_P(HcsConformanceTest, ProcessListAndStatistics) {
  ComputeSystem& cs = running("c");
  // Wait until the shell runs (right after exec its memory is not resident yet).
  auto p = spawn(cs, {"/bin/sh", "-c", "echo ready; sleep 1000"});
  char buf[8];
  ASSERT_THAT(run(p->stdoutStream()->read(buf)), IsOk());
  auto props = run(cs.properties({"ProcessList", "Statistics"}));
  ASSERT_THAT(props, IsOk());
  ASSERT_EQ(props->processList.size(), 1u);
  EXPECT_EQ(props->processList[0].processId, p->pid());
  EXPECT_EQ(props->processList[0].imageName, "sh");
  ASSERT_TRUE(props->statistics);
  EXPECT_TRUE(props->statistics->memory->memoryUsagePrivateWorkingSetBytes.value_or(0) > 0);
  EXPECT_THAT(run(cs.properties({"NoSuchProperty"})), HResultIs(hr::kHcsInvalidJson));
  ASSERT_THAT(run(p->kill()), IsOk());
}

// ---- Modify ----

TEST_P(HcsConformanceTest, ModifyValidatesPathsAndTypes) {
  ComputeSystem& cs = running("c");
  schema::ModifySettingRequest add;
  add.resourcePath = "Container/MappedDirectories";
  add.requestType = "Add";
  add.settings = {{"HostPath", dir_}, {"ContainerPath", "/data"}};
  EXPECT_THAT(run(cs.modify(add)), IsOk());
  EXPECT_THAT(run(cs.modify(add)), HResultIs(hr::kAlreadyExists));
  schema::ModifySettingRequest missing = add;
  missing.settings = {{"HostPath", dir_ + "/absent"}, {"ContainerPath", "/other"}};
  EXPECT_THAT(run(cs.modify(missing)), HResultIs(hr::kFileNotFound));
  schema::ModifySettingRequest badType = add;
  badType.requestType = "Replace";
  EXPECT_THAT(run(cs.modify(badType)), HResultIs(hr::kHcsInvalidJson));
  schema::ModifySettingRequest vmOnly;
  vmOnly.resourcePath = "VirtualMachine/Devices/NetworkAdapters/nic0";
  vmOnly.requestType = "Add";
  vmOnly.settings = {{"EndpointId", "e"}};
  EXPECT_THAT(run(cs.modify(vmOnly)), HResultIs(hr::kInvalidArg));
  schema::ModifySettingRequest unknown;
  unknown.resourcePath = "Container/Nope";
  unknown.requestType = "Add";
  EXPECT_THAT(run(cs.modify(unknown)), HResultIs(hr::kInvalidArg));
  Json mapped = configuration(cs)["Container"]["MappedDirectories"];
  ASSERT_EQ(mapped.size(), 1u) << "the added directory shows up in Properties";
  EXPECT_EQ(mapped[0]["HostPath"], dir_);
  EXPECT_EQ(mapped[0]["ContainerPath"], "/data");
  schema::ModifySettingRequest remove = add;
  remove.requestType = "Remove";
  EXPECT_THAT(run(cs.modify(remove)), IsOk());
  EXPECT_THAT(run(cs.modify(remove)), HResultIs(hr::kElementNotFound));
  EXPECT_FALSE(configuration(cs)["Container"].contains("MappedDirectories")) << "and is gone after Remove";
}

// ---- Virtual machines ----

TEST_P(HcsConformanceTest, VirtualMachineDocumentValidation) {
  Json doc = *parseJson(vmDoc());
  doc["VirtualMachine"]["Chipset"]["LinuxKernelDirect"]["KernelFilePath"] = dir_ + "/missing-kernel";
  auto r = run(ComputeSystem::create(backend_->api(), rt_->loop(), id("vm1"), doc.dump()));
  EXPECT_THAT(r, HResultIs(hr::kFileNotFound));
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("KernelFilePath"));
  doc = *parseJson(vmDoc());
  doc["VirtualMachine"]["ComputeTopology"]["Memory"]["SizeInMB"] = 1;
  EXPECT_THAT(run(ComputeSystem::create(backend_->api(), rt_->loop(), id("vm2"), doc.dump())), HResultIs(hr::kInvalidArg));
  doc = *parseJson(vmDoc());
  doc["VirtualMachine"]["ComputeTopology"].erase("Memory");
  EXPECT_THAT(run(ComputeSystem::create(backend_->api(), rt_->loop(), id("vm3"), doc.dump())), HResultIs(hr::kHcsInvalidJson));
}

TEST_P(HcsConformanceTest, VirtualMachineScsiHotAddAndRemove) {
  ComputeSystem& vm = create("vm", vmDoc());
  ASSERT_THAT(run(vm.start()), IsOk());
  schema::ModifySettingRequest add;
  add.resourcePath = "VirtualMachine/Devices/Scsi/df6d0690-79e5-55b6-a5ec-c1e2f77f580a/Attachments/3";
  add.requestType = "Add";
  add.settings = {{"Type", "VirtualDisk"}, {"Path", writeFile("disk.vhdx")}, {"ReadOnly", true}};
  EXPECT_THAT(run(vm.modify(add)), IsOk());
  EXPECT_THAT(run(vm.modify(add)), HResultIs(hr::kAlreadyExists));
  const char* kController = "df6d0690-79e5-55b6-a5ec-c1e2f77f580a";
  Json attached = configuration(vm)["VirtualMachine"]["Devices"]["Scsi"][kController]["Attachments"];
  ASSERT_TRUE(attached.contains("3")) << "the hot-added disk shows up in Properties: " << attached.dump();
  EXPECT_EQ(attached["3"]["Path"], add.settings["Path"]);
  EXPECT_EQ(attached["3"]["ReadOnly"], true);
  schema::ModifySettingRequest lun64 = add;
  lun64.resourcePath = "VirtualMachine/Devices/Scsi/df6d0690-79e5-55b6-a5ec-c1e2f77f580a/Attachments/64";
  EXPECT_THAT(run(vm.modify(lun64)), HResultIs(hr::kInvalidArg));
  schema::ModifySettingRequest noController = add;
  noController.resourcePath = "VirtualMachine/Devices/Scsi/0110f83b-de10-5172-a266-78bca56bf50a/Attachments/0";
  EXPECT_THAT(run(vm.modify(noController)), HResultIs(hr::kElementNotFound));
  schema::ModifySettingRequest remove = add;
  remove.requestType = "Remove";
  EXPECT_THAT(run(vm.modify(remove)), IsOk());
  EXPECT_THAT(run(vm.modify(remove)), HResultIs(hr::kElementNotFound));
  attached = configuration(vm)["VirtualMachine"]["Devices"]["Scsi"][kController];
  EXPECT_FALSE(attached.contains("Attachments") && attached["Attachments"].contains("3")) << attached.dump();
  schema::ModifySettingRequest pmem;
  pmem.resourcePath = "VirtualMachine/Devices/VirtualPMem/Devices/4";
  pmem.requestType = "Add";
  pmem.settings = {{"HostPath", writeFile("layer.vhd")}, {"ReadOnly", true}, {"ImageFormat", "Vhd1"}};
  EXPECT_THAT(run(vm.modify(pmem)), HResultIs(hr::kInvalidArg)) << "MaximumCount is 4";
  schema::ProcessParameters pp;
  pp.commandArgs = {"true"};
  EXPECT_THAT(run(vm.createProcess(pp)), HResultIs(hr::kNotImpl)) << "no guest backend yet";
}

// ---- Handles ----

TEST_P(HcsConformanceTest, TerminateOnLastHandleClosed) {
  ComputeSystem& cs = create("c", containerDoc(/*terminateOnLastHandleClosed=*/true));
  ASSERT_THAT(run(cs.start()), IsOk());
  auto p = spawn(cs, {"sleep", "1000"}, false, false);
  auto other = backend_->secondClient();
  auto second = run(ComputeSystem::open(*other, rt_->loop(), cs.id()));
  ASSERT_THAT(second, IsOk());
  cs.close();
  EXPECT_EQ(stateOf(**second), "Running") << "one handle is still open";
  (*second)->close();
  EXPECT_EQ(run(p->wait()), 137) << "the last close terminated the system and its processes";
  EXPECT_THAT(run(ComputeSystem::open(backend_->api(), rt_->loop(), cs.id())), HResultIs(hr::kHcsSystemNotFound));
}

TEST_P(HcsConformanceTest, StoppedSystemGoesAwayWithItsLastHandle) {
  ComputeSystem& cs = running("c");
  ASSERT_THAT(run(cs.terminate()), IsOk());
  auto reopened = run(ComputeSystem::open(backend_->api(), rt_->loop(), cs.id()));
  ASSERT_THAT(reopened, IsOk()) << "still there while a handle is open";
  (*reopened)->close();
  cs.close();
  EXPECT_THAT(run(ComputeSystem::open(backend_->api(), rt_->loop(), cs.id())), HResultIs(hr::kHcsSystemNotFound));
}

TEST_P(HcsConformanceTest, EnumerateFiltersByOwner) {
  create("a", containerDoc(false, "owner-a"));
  create("b", containerDoc(false, "owner-b"));
  auto all = run(backend_->api().enumerateComputeSystems(R"({"Owners":["owner-a"]})"));
  ASSERT_THAT(all, IsOk());
  Json list = *parseJson(*all);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Id"], id("a"));
  EXPECT_EQ(list[0]["State"], "Created");
  EXPECT_THAT(run(backend_->api().enumerateComputeSystems(R"({"Owners":"x"})")), HResultIs(hr::kHcsInvalidJson));
}

// ---- Clients and the service going away ----

TEST_P(HcsConformanceTest, ClientKilledMidOperationLeavesTheServiceConsistent) {
  auto doomed = backend_->secondClient();
  // The doomed client creates a system that must die with it, one that must
  // outlive it, and disappears while a start is in flight.
  auto dying = run(ComputeSystem::create(*doomed, rt_->loop(), id("dies"), containerDoc(true)));
  ASSERT_THAT(dying, IsOk());
  auto staying = run(ComputeSystem::create(*doomed, rt_->loop(), id("stays"), containerDoc(false)));
  ASSERT_THAT(staying, IsOk());
  ASSERT_THAT(run((*dying)->start()), IsOk());
  runtime::spawn([](ComputeSystem& cs) -> Task<void> { (void)co_await cs.start(); }(**staying));
  if (!backend_->dropClient(*doomed)) GTEST_SKIP() << "this backend has no separate client connection";
  // Let the service notice the disconnect.
  bool tick = false;
  rt_->loop().addTimer(std::chrono::milliseconds(100), [&] { tick = true; });
  rt_->loop().runUntil([&] { return tick; });
  EXPECT_THAT(run(ComputeSystem::open(backend_->api(), rt_->loop(), id("dies"))), HResultIs(hr::kHcsSystemNotFound))
      << "ShouldTerminateOnLastHandleClosed: gone with its only client";
  auto survivor = run(ComputeSystem::open(backend_->api(), rt_->loop(), id("stays")));
  ASSERT_THAT(survivor, IsOk()) << "other systems are not lost";
  std::string st = stateOf(**survivor);
  EXPECT_TRUE(st == "Created" || st == "Running") << st;
  EXPECT_THAT(run((*survivor)->terminate()), IsOk());
  (*dying).reset();
  (*staying).reset();
}

TEST_P(HcsConformanceTest, ServiceStopIsReportedToClients) {
  ComputeSystem& cs = running("c");
  if (!backend_->stopService()) GTEST_SKIP() << "this backend cannot stop its service";
  hcs::SystemExit exit = run(cs.wait());
  EXPECT_TRUE(exit.exitType == "ForcedExit" || exit.status == hr::kHcsConnectionClosed) << exit.exitType;
  EXPECT_THAT(run(cs.pause()), HResultIs(hr::kHcsConnectionClosed));
}

INSTANTIATE_TEST_SUITE_P(Backends, HcsConformanceTest, ::testing::Values("inprocess", "wire", "daemon"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hcsshim::functional
