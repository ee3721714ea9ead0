// The portable HCS API suite: scenarios written only against hcs::HcsApi
// (through the ComputeSystem client) and the EventLoop seam, built for
// Linux and for Windows from this one file (hcs_api_backend.h says what
// each build runs against). The same scenarios therefore run
//   - on Linux against the in-process fake HCS (bazel test),
//   - as a Windows .exe under Wine through ComputeCoreHcs and the stand-in
//     computecore.dll, against the fake daemon (the Wine test),
//   - on a vendor's Windows host against real HCS (HCS_BACKEND=hyperv),
//   - on Linux against a recording of any of those (HCS_REPLAY).
// Scenarios that need a compute system only the fake runs (a Container
// document without layers, whose processes are Linux host processes) skip
// on real HCS with that reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "functional/hcs_api_suite.h"
#include "src/common/json.h"
#include "src/hcs/compute_system.h"
#include "src/runtime/task.h"
#include "src/uvm/uvm.h"

namespace hcsshim::functional {
namespace {

using hcs::ComputeSystem;
using runtime::Task;
namespace hr = hresult;

#define EXPECT_HR(status, want) EXPECT_EQ((status).hresult(), static_cast<HResult>(want)) << (status).toString()

class HcsApiConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    backend_ = openBackendForThisTest(error);
    ASSERT_TRUE(backend_) << error;
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    if (!backend_) return;
    for (auto& cs : systems_) {
      (void)run(cs->terminate());
      cs->close();
    }
    systems_.clear();
    EXPECT_EQ(backend_->finish(), "") << "backend " << backend_->name();
    backend_.reset();
  }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(backend_->loop(), std::move(t));
  }
  hcs::HcsApi& api() { return backend_->api(); }
  // id: a compute system id unique to the scenario (deterministic: a
  // recording of one run replays in another).
  std::string id(const std::string& suffix) { return "conformance-" + name_ + "-" + suffix; }

  // needFake: skips where the scenario needs a system only the fake runs.
  bool needFake() const { return backend_->fake(); }
  static std::string containerDoc() {
    return Json{{"Owner", "hcs-api-conformance"}, {"SchemaVersion", {{"Major", 2}, {"Minor", 1}}},
                {"Container", {{"GuestOs", {{"HostName", "conformance"}}}}}}
        .dump();
  }
  ComputeSystem* create(const std::string& suffix, const std::string& doc = containerDoc()) {
    auto cs = run(ComputeSystem::create(api(), backend_->loop(), id(suffix), doc));
    EXPECT_TRUE(cs.ok()) << cs.status().toString();
    if (!cs.ok()) return nullptr;
    systems_.push_back(std::move(*cs));
    return systems_.back().get();
  }
  std::string stateOf(ComputeSystem& cs) {
    auto p = run(cs.properties());
    return p.ok() ? p->state.value_or("?") : p.status().toString();
  }
  std::unique_ptr<hcs::Process> spawn(ComputeSystem& cs, std::vector<std::string> args) {
    schema::ProcessParameters pp;
    pp.commandArgs = std::move(args);
    auto p = run(cs.createProcess(pp));
    EXPECT_TRUE(p.ok()) << p.status().toString();
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::unique_ptr<HcsApiBackend> backend_;
  std::vector<std::unique_ptr<ComputeSystem>> systems_;
  std::string name_;
};

#define NEED_FAKE()                                                                                     \
  if (!needFake()) GTEST_SKIP() << "needs a compute system only the fake HCS runs (a Container without " \
                                   "layers); backend " << backend_->name()

// ---- errors every HCS gives ----

TEST_F(HcsApiConformance, OpeningAnUnknownIdIsSystemNotFound) {
  auto cs = run(ComputeSystem::open(api(), backend_->loop(), id("never-created")));
  ASSERT_FALSE(cs.ok());
  EXPECT_HR(cs.status(), hr::kHcsSystemNotFound);
}

TEST_F(HcsApiConformance, AConfigurationThatIsNotJsonIsInvalidJson) {
  auto cs = run(ComputeSystem::create(api(), backend_->loop(), id("bad"), "{\"Owner\": oops"));
  ASSERT_FALSE(cs.ok());
  EXPECT_HR(cs.status(), hr::kHcsInvalidJson);
  auto open = run(ComputeSystem::open(api(), backend_->loop(), id("bad")));
  EXPECT_HR(open.status(), hr::kHcsSystemNotFound) << "nothing was created";
}

TEST_F(HcsApiConformance, EnumerateAnswersAJsonArray) {
  auto list = run(api().enumerateComputeSystems(""));
  ASSERT_TRUE(list.ok()) << list.status().toString();
  auto doc = parseJson(*list);
  ASSERT_TRUE(doc.ok()) << *list;
  EXPECT_TRUE(doc->is_array()) << *list;
}

// ---- lifecycle ----

TEST_F(HcsApiConformance, ACreatedSystemIsListedWithItsOwner) {
  NEED_FAKE();
  ComputeSystem* cs = create("listed");
  ASSERT_TRUE(cs);
  auto list = run(api().enumerateComputeSystems(""));
  ASSERT_TRUE(list.ok());
  bool found = false;
  for (const auto& e : *parseJson(*list)) {
    if (e.value("Id", "") == id("listed")) {
      found = true;
      EXPECT_EQ(e.value("Owner", ""), "hcs-api-conformance");
      EXPECT_EQ(e.value("SystemType", ""), "Container");
    }
  }
  EXPECT_TRUE(found) << *list;
}

TEST_F(HcsApiConformance, CreateStartShutdownExitsGracefully) {
  NEED_FAKE();
  ComputeSystem* cs = create("life");
  ASSERT_TRUE(cs);
  EXPECT_EQ(stateOf(*cs), "Created");
  ASSERT_TRUE(run(cs->start()).ok());
  EXPECT_EQ(stateOf(*cs), "Running");
  ASSERT_TRUE(run(cs->shutdown()).ok());
  hcs::SystemExit exit = run(cs->wait());  // the SystemExited notification
  EXPECT_EQ(exit.exitType, "GracefulExit");
  EXPECT_EQ(exit.status, 0u);
  EXPECT_EQ(stateOf(*cs), "Stopped");
}

TEST_F(HcsApiConformance, TerminateIsAForcedExit) {
  NEED_FAKE();
  ComputeSystem* cs = create("forced");
  ASSERT_TRUE(cs);
  ASSERT_TRUE(run(cs->start()).ok());
  ASSERT_TRUE(run(cs->terminate()).ok());
  EXPECT_EQ(run(cs->wait()).exitType, "ForcedExit");
}

TEST_F(HcsApiConformance, CreatingAnIdTwiceIsAlreadyExists) {
  NEED_FAKE();
  ASSERT_TRUE(create("twice"));
  auto again = run(ComputeSystem::create(api(), backend_->loop(), id("twice"), containerDoc()));
  ASSERT_FALSE(again.ok());
  EXPECT_HR(again.status(), hr::kHcsSystemAlreadyExists);
}

TEST_F(HcsApiConformance, ASecondHandleOpensTheSameSystem) {
  NEED_FAKE();
  ComputeSystem* cs = create("shared");
  ASSERT_TRUE(cs);
  auto other = run(ComputeSystem::open(api(), backend_->loop(), id("shared")));
  ASSERT_TRUE(other.ok()) << other.status().toString();
  ASSERT_TRUE(run((*other)->start()).ok());
  EXPECT_EQ(stateOf(*cs), "Running") << "started through the other handle";
  (*other)->close();
  EXPECT_EQ(stateOf(*cs), "Running") << "closing a second handle leaves the system";
}

TEST_F(HcsApiConformance, AClosedHandleIsInvalid) {
  NEED_FAKE();
  ComputeSystem* cs = create("closed");
  ASSERT_TRUE(cs);
  cs->close();
  Status st = run(cs->start());
  EXPECT_FALSE(st.ok());
  EXPECT_HR(st, hr::kInvalidHandle);
}

TEST_F(HcsApiConformance, StartingARunningSystemIsInvalidState) {
  NEED_FAKE();
  ComputeSystem* cs = create("twice-started");
  ASSERT_TRUE(cs);
  ASSERT_TRUE(run(cs->start()).ok());
  Status st = run(cs->start());
  EXPECT_FALSE(st.ok());
  EXPECT_HR(st, hr::kHcsInvalidState);
}

// An id and a document outside ASCII cross the API as UTF-16 and come back.
TEST_F(HcsApiConformance, UnicodeIdsAndDocumentsRoundTrip) {
  NEED_FAKE();
  Json doc = *parseJson(containerDoc());
  doc["Owner"] = "Besitzer-\xC3\xBC-\xE5\x90\x8D-\xF0\x9F\x93\xA6";  // ü, 名, 📦 (a surrogate pair)
  ComputeSystem* cs = create("\xC3\xA9t\xC3\xA9", doc.dump());
  ASSERT_TRUE(cs);
  auto list = run(api().enumerateComputeSystems(""));
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, ::testing::HasSubstr(id("\xC3\xA9t\xC3\xA9")));
  EXPECT_THAT(*list, ::testing::HasSubstr(doc["Owner"].get<std::string>()));
}

// ---- utility VMs: the document the shim sends (uvm::lcowDocument) ----

// bootFiles: where the guest image's kernel and initrd are, as HCS sees the
// path: HCS_UVM_BOOT_FILES (run.cmd: the bundle's boot folder); for the
// in-process fake, a folder of stand-in files made here (the fake checks
// that they exist, as HCS does, and boots nothing).
std::string bootFiles(HcsApiBackend& backend) {
  const char* env = std::getenv("HCS_UVM_BOOT_FILES");
  if (env && *env) return env;
  if (backend.name() != "fake") return "";
  std::string dir = (std::filesystem::temp_directory_path() / "hcs-api-conformance-boot").string();
  std::filesystem::create_directories(dir);
  for (const char* f : {"kernel", "initrd.img"}) std::ofstream(dir + "/" + f) << "stand-in";
  return dir;
}

TEST_F(HcsApiConformance, AUtilityVmFromTheShimsDocumentStartsAndTerminates) {
  std::string boot = bootFiles(*backend_);
  if (boot.empty()) GTEST_SKIP() << "set HCS_UVM_BOOT_FILES to a folder with the guest image's boot files";
  uvm::LcowOptions o;
  o.id = id("uvm");
  o.owner = "hcs-api-conformance";
  o.bootFilesPath = boot;
  o.memoryMB = 512;
  o.processors = 1;
  auto doc = uvm::lcowDocument(o);
  ASSERT_TRUE(doc.ok()) << doc.status().toString();
  ComputeSystem* vm = create("uvm", jsonText(schema::encode(*doc)));
  ASSERT_TRUE(vm);
  ASSERT_TRUE(run(vm->start()).ok());
  auto props = run(vm->properties());
  ASSERT_TRUE(props.ok()) << props.status().toString();
  EXPECT_EQ(props->state, "Running");
  EXPECT_EQ(props->systemType, "VirtualMachine");
  ASSERT_TRUE(run(vm->terminate()).ok());
  EXPECT_EQ(run(vm->wait()).exitType, "ForcedExit");
}

// ---- processes (the fake's Container processes are host processes) ----

TEST_F(HcsApiConformance, AProcessExitCodeArrivesByNotification) {
  NEED_FAKE();
  ComputeSystem* cs = create("proc");
  ASSERT_TRUE(cs);
  ASSERT_TRUE(run(cs->start()).ok());
  auto p = spawn(*cs, {"/bin/sh", "-c", "exit 7"});
  ASSERT_TRUE(p);
  EXPECT_GT(p->pid(), 0u);
  EXPECT_EQ(run(p->wait()), 7);
}

TEST_F(HcsApiConformance, AProcesssStdioPipesCarryItsBytes) {
  NEED_FAKE();
  ComputeSystem* cs = create("pipes");
  ASSERT_TRUE(cs);
  ASSERT_TRUE(run(cs->start()).ok());
  schema::ProcessParameters pp;
  pp.commandArgs = {"/bin/sh", "-c", "cat; echo done; echo oops >&2; exit 3"};
  pp.createStdInPipe = pp.createStdOutPipe = pp.createStdErrPipe = true;
  auto p = run(cs->createProcess(pp));
  ASSERT_TRUE(p.ok()) << p.status().toString();
  ASSERT_TRUE((*p)->stdinStream() && (*p)->stdoutStream() && (*p)->stderrStream());
  ASSERT_TRUE(run((*p)->stdinStream()->write("bytes in\n")).ok());
  ASSERT_TRUE(run((*p)->closeStdin()).ok());
  auto out = run(runtime::readToEnd(*(*p)->stdoutStream()));
  ASSERT_TRUE(out.ok()) << out.status().toString();
  EXPECT_EQ(*out, "bytes in\ndone\n");
  auto err = run(runtime::readToEnd(*(*p)->stderrStream()));
  ASSERT_TRUE(err.ok()) << err.status().toString();
  EXPECT_EQ(*err, "oops\n");
  EXPECT_EQ(run((*p)->wait()), 3);
}

TEST_F(HcsApiConformance, AProcessIsKilledAndOpenedByPid) {
  NEED_FAKE();
  ComputeSystem* cs = create("kill");
  ASSERT_TRUE(cs);
  ASSERT_TRUE(run(cs->start()).ok());
  auto p = spawn(*cs, {"/bin/sleep", "1000"});
  ASSERT_TRUE(p);
  auto again = run(cs->openProcess(p->pid()));
  ASSERT_TRUE(again.ok()) << again.status().toString();
  auto props = run((*again)->properties());
  ASSERT_TRUE(props.ok()) << props.status().toString();
  EXPECT_EQ(props->processId.value_or(0), p->pid());
  ASSERT_TRUE(run(p->kill()).ok());
  EXPECT_NE(run(p->wait()), 0) << "killed";
  auto none = run(cs->openProcess(999999));
  EXPECT_FALSE(none.ok());
}

TEST_F(HcsApiConformance, ProcessesEndWithTheirSystem) {
  NEED_FAKE();
  ComputeSystem* cs = create("takes-all");
  ASSERT_TRUE(cs);
  ASSERT_TRUE(run(cs->start()).ok());
  auto p = spawn(*cs, {"/bin/sleep", "1000"});
  ASSERT_TRUE(p);
  ASSERT_TRUE(run(cs->terminate()).ok());
  (void)run(cs->wait());
  EXPECT_NE(run(p->wait()), 0) << "its process exits with it";
}

}  // namespace
}  // namespace hcsshim::functional
