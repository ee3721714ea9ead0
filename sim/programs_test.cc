#include "sim/programs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "sim/node.h"
#include "src/common/status_matchers.h"

namespace hcsshim::sim {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using runtime::ExitStatus;
using runtime::ProcessSpec;
using runtime::StdioMode;
using runtime::Task;

Task<std::string> readAll(runtime::Stream* s) {
  auto r = co_await runtime::readToEnd(*s);
  co_return r.ok() ? *r : r.status().toString();
}

class ProgramsTest : public ::testing::Test {
 protected:
  ProgramsTest() : world_(21), host_(world_.addNode("host")) {
    world_.programs().registerProgram("upper", [](ProgramContext& ctx) -> Task<int> {
      std::string in = co_await readAll(ctx.stdinStream.get());
      for (auto& c : in) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      (void)co_await ctx.stdoutStream->write(in + ctx.env["SUFFIX"]);
      co_return static_cast<int>(ctx.args.size());
    });
    world_.programs().registerProgram("waiter", [](ProgramContext& ctx) -> Task<int> {
      ctx.handleSignals();
      int sig = co_await ctx.nextSignal();
      co_return sig == SIGTERM ? 43 : 1;
    });
    world_.programs().registerProgram("sleeper", [](ProgramContext& ctx) -> Task<int> {
      co_await runtime::sleep(ctx.node->loop(), std::chrono::hours(1));
      co_return 0;
    });
  }
  World world_;
  Node& host_;
};

TEST_F(ProgramsTest, StdioArgsEnvAndExitCode) {
  ProcessSpec spec{.path = "/usr/bin/upper", .args = {"upper", "a", "b"}};
  spec.env = std::map<std::string, std::string>{{"SUFFIX", "!"}};
  spec.stdinMode = StdioMode::kPipe;
  spec.stdoutMode = StdioMode::kPipe;
  auto p = host_.processes().spawn(spec);
  ASSERT_THAT(p, IsOk());
  ASSERT_THAT(runtime::blockOn(host_.loop(), (*p)->stdinStream()->write("hello")), IsOk());
  ASSERT_THAT((*p)->stdinStream()->shutdownWrite(), IsOk());
  EXPECT_EQ(runtime::blockOn(host_.loop(), readAll((*p)->stdoutStream())), "HELLO!");
  EXPECT_EQ(runtime::blockOn(host_.loop(), (*p)->wait()), (ExitStatus{3, 0}));
}

TEST_F(ProgramsTest, HandledSignalAndKill) {
  auto p = std::move(*host_.processes().spawn(ProcessSpec{.path = "waiter"}));
  world_.runFor(std::chrono::milliseconds(1));
  ASSERT_THAT(p->signal(SIGTERM), IsOk());
  EXPECT_EQ(runtime::blockOn(host_.loop(), p->wait()).exitCode, 43);
  EXPECT_THAT(p->signal(SIGTERM), StatusIs(Code::kNotFound));

  auto s = std::move(*host_.processes().spawn(ProcessSpec{.path = "sleeper"}));
  ASSERT_THAT(s->signal(SIGKILL), IsOk());
  ExitStatus st = runtime::blockOn(host_.loop(), s->wait());
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.exitCode, 137);
  // A killed program's coroutine is not torn down mid-await: it runs on until
  // it returns. Let it, so nothing is left suspended.
  world_.runFor(std::chrono::hours(2));
  EXPECT_EQ(world_.pendingEvents(), 0u);
}

TEST_F(ProgramsTest, DefaultDispositionOfSigterm) {
  auto s = std::move(*host_.processes().spawn(ProcessSpec{.path = "sleeper"}));
  ASSERT_THAT(s->signal(SIGTERM), IsOk());
  EXPECT_EQ(runtime::blockOn(host_.loop(), s->wait()).exitCode, 128 + SIGTERM);
  world_.runFor(std::chrono::hours(2));
}

TEST_F(ProgramsTest, UnknownProgramIsNotFound) {
  EXPECT_THAT(host_.processes().spawn(ProcessSpec{.path = "/bin/nope"}), StatusIs(Code::kNotFound));
}

}  // namespace
}  // namespace hcsshim::sim
