// hcsdiag against a real hcs_fake daemon: every command, as a user runs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "functional/harness/hcs_fake_daemon.h"
#include "src/common/json.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using runtime::Task;

struct Result {
  int code = -1;
  std::string out, err;
};

class HcsdiagTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("hcsdiag-test"));
    char tmpl[] = "/tmp/hcsdiag-XXXXXX";
    dir_ = mkdtemp(tmpl);
    hcsdiag_ = functional::HcsFakeDaemon::runfile("tools/hcsdiag/hcsdiag");
    auto d = functional::HcsFakeDaemon::start(*rt_, dir_);
    ASSERT_THAT(d, IsOk());
    daemon_ = std::move(*d);
    address_ = daemon_->address();
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0);
    }
    std::filesystem::remove_all(dir_);
  }

  Result hcsdiag(std::vector<std::string> args, const std::string& input = "") {
    runtime::ProcessSpec spec{.path = hcsdiag_, .args = {"hcsdiag", "--address", address_}};
    spec.args.insert(spec.args.end(), args.begin(), args.end());
    spec.stdinMode = runtime::StdioMode::kPipe;
    spec.stdoutMode = runtime::StdioMode::kPipe;
    spec.stderrMode = runtime::StdioMode::kPipe;
    auto p = rt_->processes().spawn(spec);
    EXPECT_THAT(p, IsOk());
    return runtime::blockOn(rt_->loop(), [](runtime::Process& p, std::string input, runtime::EventLoop& loop) -> Task<Result> {
      if (!input.empty()) (void)co_await p.stdinStream()->write(input);
      p.stdinStream()->close();
      // Read both streams at once: a child blocked on a full stderr pipe
      // would otherwise never close stdout.
      Result r;
      bool errDone = false;
      runtime::spawn([](runtime::Stream* s, std::string& out, bool& done) -> Task<void> {
        auto all = co_await runtime::readToEnd(*s);
        if (all.ok()) out = *all;
        done = true;
      }(p.stderrStream(), r.err, errDone));
      auto out = co_await runtime::readToEnd(*p.stdoutStream());
      r.out = out.ok() ? *out : "";
      r.code = (co_await p.wait()).exitCode;
      while (!errDone) co_await runtime::yield(loop);
      co_return r;
    }(**p, input, rt_->loop()));
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_, address_, hcsdiag_;
  std::unique_ptr<functional::HcsFakeDaemon> daemon_;
};

TEST_F(HcsdiagTest, CreateStartExecPropertiesTerminate) {
  std::string doc = dir_ + "/c1.json";
  std::ofstream(doc) << R"({"Owner":"hcsdiag-test","SchemaVersion":{"Major":2,"Minor":1},"Container":{}})";
  Result r = hcsdiag({"create", "c1", doc});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(hcsdiag({"start", "c1"}).code, 0);

  r = hcsdiag({"list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("c1 +Container +Running +hcsdiag-test"));

  r = hcsdiag({"exec", "c1", "/bin/sh", "-c", "echo hello; echo oops >&2; exit 5"});
  EXPECT_EQ(r.code, 5);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "oops\n");

  r = hcsdiag({"exec", "-i", "c1", "tr", "a-z", "A-Z"}, "shout\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "SHOUT\n");

  r = hcsdiag({"exec", "-t", "c1", "/bin/sh", "-c", "stty size; tty >/dev/null && echo on-a-tty"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("24 80")) << "no terminal here: the default console size";
  EXPECT_THAT(r.out, ::testing::HasSubstr("on-a-tty"));

  EXPECT_EQ(hcsdiag({"pause", "c1"}).code, 0);
  r = hcsdiag({"properties", "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto props = parseJson(r.out);
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ((*props)["State"], "Paused");
  EXPECT_EQ(hcsdiag({"resume", "c1"}).code, 0);

  r = hcsdiag({"resume", "c1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("HRESULT 0x80370105 HCS_E_INVALID_STATE"));

  EXPECT_EQ(hcsdiag({"terminate", "c1"}).code, 0);
  r = hcsdiag({"start", "c1"});
  EXPECT_EQ(r.code, 1) << "stopped with no open handle: gone";
  EXPECT_THAT(r.err, ::testing::HasSubstr("HCS_E_SYSTEM_NOT_FOUND"));
}

TEST_F(HcsdiagTest, KillingAClientMidExecLeavesTheDaemonConsistent) {
  std::string doc = dir_ + "/c2.json";
  std::ofstream(doc) << R"({"Owner":"hcsdiag-test","Container":{}})";
  ASSERT_EQ(hcsdiag({"create", "c2", doc}).code, 0);
  ASSERT_EQ(hcsdiag({"start", "c2"}).code, 0);
  // A client in the middle of an exec (its process still running) is SIGKILLed.
  runtime::ProcessSpec spec{.path = hcsdiag_, .args = {"hcsdiag", "--address", address_, "exec", "c2", "/bin/sh", "-c",
                                                      "echo started; sleep 1000"}};
  spec.stdoutMode = runtime::StdioMode::kPipe;
  auto client = rt_->processes().spawn(spec);
  ASSERT_THAT(client, IsOk());
  char buf[16];
  ASSERT_THAT(runtime::blockOn(rt_->loop(), (*client)->stdoutStream()->read(buf)), IsOk());
  ASSERT_THAT((*client)->signal(SIGKILL), IsOk());
  EXPECT_EQ(runtime::blockOn(rt_->loop(), (*client)->wait()).signal, SIGKILL);
  // The daemon still serves, the system is intact, and its process keeps running.
  Result r = hcsdiag({"properties", "c2", "ProcessList"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto props = parseJson(r.out);
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ((*props)["State"], "Running");
  ASSERT_EQ((*props)["ProcessList"].size(), 1u) << r.out;
  EXPECT_TRUE(daemon_->running());
  EXPECT_EQ(hcsdiag({"terminate", "c2"}).code, 0);
}

// hcsdiag exec -t run from a real terminal: the console starts at our size,
// follows our resizes, and our terminal is raw (^C reaches the process
// instead of killing hcsdiag).
TEST_F(HcsdiagTest, ConsoleFollowsTheCallersTerminal) {
  std::string doc = dir_ + "/c3.json";
  std::ofstream(doc) << R"({"Owner":"hcsdiag-test","Container":{}})";
  ASSERT_EQ(hcsdiag({"create", "c3", doc}).code, 0);
  ASSERT_EQ(hcsdiag({"start", "c3"}).code, 0);
  const char* script =
      "trap 'echo interrupted; exit 3' INT; stty size; "
      "while [ \"$(stty size)\" = '30 100' ]; do sleep 0.05; done; stty size; echo waiting; "
      "while :; do sleep 0.05; done";
  runtime::ProcessSpec spec{.path = hcsdiag_,
                            .args = {"hcsdiag", "--address", address_, "exec", "-it", "c3", "/bin/sh", "-c", script}};
  spec.terminal = true;
  spec.terminalRows = 30;
  spec.terminalColumns = 100;
  auto client = rt_->processes().spawn(spec);
  ASSERT_THAT(client, IsOk());
  runtime::Process& p = **client;
  auto readUntil = [&](const std::string& want) {
    return runtime::blockOn(rt_->loop(), [](runtime::Stream& s, std::string want) -> Task<std::string> {
      std::string seen;
      char buf[256];
      while (seen.find(want) == std::string::npos) {
        auto n = co_await s.read(buf);
        if (!n.ok() || *n == 0) break;
        seen.append(buf, *n);
      }
      co_return seen;
    }(*p.terminalStream(), want));
  };
  EXPECT_THAT(readUntil("30 100"), ::testing::HasSubstr("30 100")) << "the console starts at our size";
  ASSERT_THAT(p.resizeTerminal(40, 120), IsOk());
  EXPECT_THAT(readUntil("waiting"), ::testing::HasSubstr("40 120")) << "and follows our resize";
  ASSERT_THAT(runtime::blockOn(rt_->loop(), p.terminalStream()->write("\x03")), IsOk());
  EXPECT_THAT(readUntil("interrupted"), ::testing::HasSubstr("interrupted"));
  auto exit = runtime::blockOn(rt_->loop(), p.wait());
  EXPECT_EQ(exit.signal, 0) << "^C went to the process, not to hcsdiag";
  EXPECT_EQ(exit.exitCode, 3);
  EXPECT_EQ(hcsdiag({"terminate", "c3"}).code, 0);
}

// hcs_fake --replay serves a recording as a scripted HCS over the daemon's
// wire: the recorded client gets the recorded answers (and its
// notifications) again; a client that does something else is told where it
// diverged, and the daemon says so in its log.
TEST_F(HcsdiagTest, TheDaemonServesARecordingAndNamesADivergence) {
  std::string doc = dir_ + "/r1.json";
  std::ofstream(doc) << R"({"Owner":"replayed","SchemaVersion":{"Major":2,"Minor":1},"Container":{}})";
  std::string rec = dir_ + "/create.jsonl";
  Result recorded = hcsdiag({"--record=" + rec, "create", "r1", doc});
  ASSERT_EQ(recorded.code, 0) << recorded.err;
  EXPECT_EQ(daemon_->stop(), 0);
  daemon_.reset();

  auto replaying = functional::HcsFakeDaemon::start(*rt_, dir_ + "/replay", {"--replay=" + rec});
  ASSERT_THAT(replaying, IsOk());
  daemon_ = std::move(*replaying);
  address_ = daemon_->address();
  Result again = hcsdiag({"create", "r1", doc});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, recorded.out) << "answered as recorded";
  Result other = hcsdiag({"create", "r2", doc});
  EXPECT_EQ(other.code, 1);
  EXPECT_THAT(other.err, ::testing::HasSubstr("call #0 createComputeSystem: field id")) << other.err;

  auto bad = functional::HcsFakeDaemon::start(*rt_, dir_ + "/bad", {"--replay=" + dir_ + "/no-such.jsonl"});
  EXPECT_FALSE(bad.ok()) << "a recording that cannot be read stops the daemon before it serves";
  std::ofstream(dir_ + "/truncated.jsonl") << "{\"call\":0,\"op\":\"createComp";
  bad = functional::HcsFakeDaemon::start(*rt_, dir_ + "/bad2", {"--replay=" + dir_ + "/truncated.jsonl"});
  EXPECT_FALSE(bad.ok()) << "a truncated recording too";
}

TEST_F(HcsdiagTest, BadInputIsReported) {
  Result r = hcsdiag({"create", "bad", "-"}, "{\"Container\": ");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, ::testing::HasSubstr("HCS_E_INVALID_JSON"));
  EXPECT_EQ(hcsdiag({"frobnicate"}).code, 2);
  EXPECT_THAT(hcsdiag({"start", "missing"}).err, ::testing::HasSubstr("HCS_E_SYSTEM_NOT_FOUND"));
}

}  // namespace
}  // namespace hcsshim
