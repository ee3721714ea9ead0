// The fake HCS as a host service, as a user runs it: hcs_fake --detach,
// --status, --stop (pid file, log, idempotent start and stop), and the shim's
// error when no HCS serves naming what to start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>

#include "functional/harness/hcs_fake_daemon.h"
#include "platforms/linux/daemon_hcs.h"
#include "src/common/status_matchers.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class HcsFakeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("hcs-fake-service-test"));
    char tmpl[] = "/tmp/hcs-svc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    address_ = "unix://" + dir_ + "/hcs.sock";
  }
  void TearDown() override {
    (void)run({"--stop", "--address", address_});
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // run: a command's exit code and its stdout+stderr.
  std::pair<int, std::string> run(std::vector<std::string> args, const std::string& binary = "hcs_fake/hcs_fake",
                                  std::map<std::string, std::string> env = {}) {
    std::string bin = functional::HcsFakeDaemon::runfile(binary);
    std::vector<std::string> argv = {bin};
    argv.insert(argv.end(), args.begin(), args.end());
    return runtime::blockOn(rt_->loop(), [](runtime::Runtime& rt, std::vector<std::string> argv,
                                            std::map<std::string, std::string> extra)
                                             -> runtime::Task<std::pair<int, std::string>> {
      runtime::ProcessSpec spec{.path = argv[0], .args = argv};
      if (!extra.empty()) {
        std::map<std::string, std::string> env;
        for (char** e = environ; *e; ++e) {
          std::string kv = *e;
          auto eq = kv.find('=');
          if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        for (auto& [k, v] : extra) env[k] = v;
        spec.env = env;
      }
      spec.stdoutMode = runtime::StdioMode::kPipe;
      spec.stderrMode = runtime::StdioMode::kPipe;
      auto p = rt.processes().spawn(spec);
      if (!p.ok()) co_return std::make_pair(-1, p.status().toString());
      runtime::Oneshot<std::string> err;
      runtime::spawn([](runtime::Stream* s, runtime::Oneshot<std::string> out) -> runtime::Task<void> {
        auto all = co_await runtime::readToEnd(*s);
        out.set(all.ok() ? *all : "");
      }((*p)->stderrStream(), err));
      auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
      std::string text = out.ok() ? *out : "";
      std::string errText = co_await err;  // (no co_await inside a larger expression: GCC 12)
      text += errText;
      runtime::ExitStatus st = co_await (*p)->wait();
      co_return std::make_pair(st.exitCode, text);
    }(*rt_, argv, env));
  }
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_, address_;
};

TEST_F(HcsFakeServiceTest, DetachStatusStop) {
  auto [code, out] = run({"--detach", "--address", address_, "--vm-backend", "none"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("serving at " + address_));
  int pid = std::atoi(runtime::readFile(dir_ + "/hcs_fake.pid").value_or("0").c_str());
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0) << "the pid file names the live daemon";
  // It really is an HCS: a client connects and enumerates.
  auto api = runtime::blockOn(rt_->loop(), platforms::DaemonHcs::connect(*rt_, address_));
  ASSERT_THAT(api, IsOk());
  EXPECT_THAT(runtime::blockOn(rt_->loop(), (*api)->enumerateComputeSystems("{}")), IsOk());
  api->reset();
  std::tie(code, out) = run({"--detach", "--address", address_});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("already running at " + address_ + " (pid " + std::to_string(pid) + ")"));
  std::tie(code, out) = run({"--status", "--address", address_});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("running at"));
  std::tie(code, out) = run({"--stop", "--address", address_});
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("stopped (pid " + std::to_string(pid) + ")"));
  EXPECT_NE(::kill(pid, 0), 0) << "the daemon is gone";
  EXPECT_FALSE(fs::exists(dir_ + "/hcs_fake.pid"));
  EXPECT_THAT(runtime::readFile(dir_ + "/hcs_fake.log").value_or(""), HasSubstr("event=hcs_fake.stopped"));
  std::tie(code, out) = run({"--status", "--address", address_});
  EXPECT_EQ(code, 3);
  std::tie(code, out) = run({"--stop", "--address", address_});
  EXPECT_EQ(code, 0) << "stopping what is not running is not an error";
  EXPECT_THAT(out, HasSubstr("not running"));
}

TEST_F(HcsFakeServiceTest, ADaemonThatCannotStartIsReportedWithItsLog) {
  auto [code, out] = run({"--detach", "--address", address_, "--vm-backend", "qemu-that-does-not-exist"});
  EXPECT_EQ(code, 2) << "flags are checked before anything starts: " << out;
  fs::create_directories(dir_ + "/hcs.sock");  // a directory where the socket must go
  std::tie(code, out) = run({"--detach", "--address", address_, "--vm-backend", "none"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr("did not come up"));
  EXPECT_THAT(out, HasSubstr("hcs.sock")) << "the daemon's own error, from its log";
}

// containerd runs `<shim> start`: with no HCS it must say what to start.
TEST_F(HcsFakeServiceTest, TheShimNamesWhatToStartWhenThereIsNoHcs) {
  fs::create_directories(dir_ + "/bundle");
  auto [code, out] = run({"-namespace", "default", "-address", dir_ + "/containerd.sock", "-id", "t1", "-bundle",
                          dir_ + "/bundle", "start"},
                         "src/shim/cmd/containerd-shim-runhcs-v1", {{"HCS_FAKE_ADDRESS", address_}});
  EXPECT_EQ(code, 1);
  EXPECT_THAT(out, HasSubstr("no HCS at " + address_));
  EXPECT_THAT(out, HasSubstr("hcs_fake --detach"));
}

}  // namespace
}  // namespace hcsshim
