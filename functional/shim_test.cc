// containerd-shim-runhcs-v1 with Debian's real containerd and ctr: tasks run
// in utility VMs on the fake HCS (sim backend, real gcs and runc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "functional/harness/containerd.h"
#include "functional/harness/gcs_guest.h"
#include "functional/harness/hcs_fake_daemon.h"
#include "functional/harness/oci_image.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr const char* kImage = "docker.io/library/busybox:hcsshim-test";
constexpr const char* kRuntime = "io.containerd.runhcs.v1";

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (containerd, runc, namespaces)";
    if (!functional::ContainerdInstance::binaryAvailable()) GTEST_SKIP() << "containerd not installed";
    rt_ = std::move(*runtime::RealRuntime::create("shim-test"));
    char tmpl[] = "/tmp/shim-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto d = functional::HcsFakeDaemon::start(*rt_, dir_, {"-quiet"});
    ASSERT_THAT(d, IsOk());
    hcs_ = std::move(*d);
    functional::ContainerdOptions o;
    o.env["HCS_FAKE_ADDRESS"] = hcs_->address();
    o.pathPrepend = fs::path(functional::HcsFakeDaemon::runfile("src/shim/containerd-shim-runhcs-v1")).parent_path();
    auto c = runtime::blockOn(rt_->loop(), functional::ContainerdInstance::start(*rt_, o));
    ASSERT_THAT(c, IsOk());
    ctd_ = std::move(*c);
    auto layer = functional::makeBusyboxLayer(*rt_, dir_);
    ASSERT_THAT(layer, IsOk());
    auto tar = functional::buildImageTar(*rt_, *layer, dir_, kImage);
    ASSERT_THAT(tar, IsOk());
    auto [code, out] = ctr({"images", "import", *tar});
    ASSERT_EQ(code, 0) << out;
  }

  void TearDown() override {
    if (ctd_) {
      EXPECT_THAT(runtime::blockOn(rt_->loop(), ctd_->stop()), IsOk());
    }
    if (hcs_) {
      EXPECT_EQ(hcs_->stop(), 0);
    }
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::pair<int, std::string> ctr(std::vector<std::string> args, std::string input = "") {
    return runtime::blockOn(rt_->loop(), ctd_->ctrOutput(std::move(args), std::move(input)));
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_;
  std::unique_ptr<functional::HcsFakeDaemon> hcs_;
  std::unique_ptr<functional::ContainerdInstance> ctd_;
};

TEST_F(ShimTest, CtrRunEchoHello) {
  auto [code, out] = ctr({"run", "--runtime", kRuntime, "--rm", kImage, "hello1", "echo", "hello"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "hello\n");
}

TEST_F(ShimTest, ExitCodesPropagate) {
  auto [code, out] = ctr({"run", "--runtime", kRuntime, "--rm", kImage, "exit3", "sh", "-c", "exit 3"});
  EXPECT_EQ(code, 3) << out;
}

// A detached task: exec into it, list its processes, signal it, delete it -
// while `ctr events` records create/start/exec/exit/delete in order with
// exactly one exit per process.
TEST_F(ShimTest, DetachedTaskExecPsKillDeleteAndEvents) {
  auto events = ctd_->ctr({"events"}, /*pipeStdout=*/true);
  ASSERT_THAT(events, IsOk());
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, kImage, "svc", "sh", "-c",
                          "trap 'exit 43' TERM; sleep 1000 & wait"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = ctr({"task", "exec", "--exec-id", "e1", "svc", "echo", "from-exec"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "from-exec\n");
  std::tie(code, out) = ctr({"task", "exec", "--exec-id", "e2", "svc", "sh", "-c", "exit 5"});
  EXPECT_EQ(code, 5) << out;
  std::tie(code, out) = ctr({"task", "ps", "svc"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_GE(std::count(out.begin(), out.end(), '\n'), 3) << "a header, the shell and its sleep:\n" << out;
  std::tie(code, out) = ctr({"task", "ls"});
  EXPECT_THAT(out, ::testing::ContainsRegex("svc +[0-9]+ +RUNNING")) << out;
  std::tie(code, out) = ctr({"task", "kill", "svc"});
  EXPECT_EQ(code, 0) << out;
  // The init trapped SIGTERM: it exits 43; wait for it through the task list.
  for (int i = 0; i < 200; ++i) {
    std::tie(code, out) = ctr({"task", "ls"});
    if (out.find("STOPPED") != std::string::npos) break;
    runtime::blockOn(rt_->loop(), [](runtime::EventLoop& l) -> runtime::Task<void> {
      co_await runtime::sleep(l, std::chrono::milliseconds(25));
    }(rt_->loop()));
  }
  EXPECT_THAT(out, ::testing::ContainsRegex("svc +[0-9]+ +STOPPED")) << out;
  std::tie(code, out) = ctr({"task", "kill", "svc"});
  EXPECT_NE(code, 0) << "killing an exited task fails (NotFound)";
  std::tie(code, out) = ctr({"task", "delete", "svc"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("43")) << "delete reports the exit status";
  std::tie(code, out) = ctr({"containers", "delete", "svc"});
  EXPECT_EQ(code, 0) << out;

  // The events, in order, exactly one exit per process.
  runtime::blockOn(rt_->loop(), [](runtime::EventLoop& l) -> runtime::Task<void> {
    co_await runtime::sleep(l, std::chrono::milliseconds(200));
  }(rt_->loop()));
  ASSERT_THAT((*events)->signal(SIGTERM), IsOk());
  auto log = runtime::blockOn(rt_->loop(), runtime::readToEnd(*(*events)->stdoutStream()));
  ASSERT_THAT(log, IsOk());
  std::vector<std::string> topics;
  std::istringstream lines(*log);
  std::string line;
  int exits = 0;
  while (std::getline(lines, line)) {
    if (line.find("\"svc\"") == std::string::npos) continue;
    for (const char* t : {"/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started", "/tasks/exit",
                          "/tasks/delete"}) {
      if (line.find(std::string(" ") + t + " ") != std::string::npos) {
        topics.push_back(t);
        if (std::string(t) == "/tasks/exit") ++exits;
      }
    }
  }
  ASSERT_GE(topics.size(), 4u) << *log;
  EXPECT_EQ(topics.front(), "/tasks/create") << *log;
  EXPECT_EQ(topics[1], "/tasks/start") << *log;
  EXPECT_EQ(topics.back(), "/tasks/delete") << *log;
  EXPECT_EQ(exits, 3) << "the two execs and the init, once each:\n" << *log;
}

}  // namespace
}  // namespace hcsshim
