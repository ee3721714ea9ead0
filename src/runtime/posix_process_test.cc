#include "src/runtime/posix_process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "src/common/status_matchers.h"

namespace hcsshim::runtime {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

class PosixProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*EpollEventLoop::create());
    runner_ = std::make_unique<PosixProcessRunner>(*loop_);
  }
  std::unique_ptr<EpollEventLoop> loop_;
  std::unique_ptr<PosixProcessRunner> runner_;
};

Task<std::string> readAll(Stream* s) {
  auto r = co_await readToEnd(*s);
  co_return r.ok() ? *r : r.status().toString();
}

TEST_F(PosixProcessTest, CapturesStdoutAndExitCode) {
  ProcessSpec spec{.path = "/bin/sh", .args = {"sh", "-c", "echo hello; echo err >&2; exit 3"}};
  spec.stdoutMode = StdioMode::kPipe;
  spec.stderrMode = StdioMode::kPipe;
  auto p = runner_->spawn(spec);
  ASSERT_THAT(p, IsOk());
  EXPECT_GT((*p)->pid(), 0);
  EXPECT_EQ(blockOn(*loop_, readAll((*p)->stdoutStream())), "hello\n");
  EXPECT_EQ(blockOn(*loop_, readAll((*p)->stderrStream())), "err\n");
  ExitStatus st = blockOn(*loop_, (*p)->wait());
  EXPECT_EQ(st.exitCode, 3);
  EXPECT_FALSE(st.signaled());
  EXPECT_EQ((*p)->exitStatus(), st);
  EXPECT_THAT((*p)->signal(SIGTERM), StatusIs(Code::kNotFound));
}

// extraFds arrive as 3, 4, ... in order, even when a source descriptor is
// itself one of the targets; nothing else leaks past 2 + n.
TEST_F(PosixProcessTest, ExtraFdsArriveInOrder) {
  int a[2], b[2];
  ASSERT_EQ(pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(b, O_CLOEXEC), 0);
  // The child writes "A" to fd 3 and "B" to fd 4, then lists its fds.
  ProcessSpec spec{.path = "/bin/sh",
                   .args = {"sh", "-c", "printf A >&3; printf B >&4; exec 3>&- 4>&-; ls /proc/self/fd | sort -n | tr '\\n' ' '"}};
  spec.stdoutMode = StdioMode::kPipe;
  spec.extraFds = {b[1], a[1]};  // b first: fd 3
  auto p = runner_->spawn(spec);
  ASSERT_THAT(p, IsOk());
  ::close(a[1]);
  ::close(b[1]);
  char buf[8] = {};
  EXPECT_EQ(::read(b[0], buf, sizeof buf), 1);
  EXPECT_EQ(buf[0], 'A');
  EXPECT_EQ(::read(a[0], buf, sizeof buf), 1);
  EXPECT_EQ(buf[0], 'B');
  // ls's own fds: 0-2 and the directory it reads (3) - nothing inherited beyond.
  EXPECT_EQ(blockOn(*loop_, readAll((*p)->stdoutStream())), "0 1 2 3 ");
  EXPECT_EQ(blockOn(*loop_, (*p)->wait()).exitCode, 0);
  ::close(a[0]);
  ::close(b[0]);
  spec.extraFds = {12345};
  EXPECT_THAT(runner_->spawn(spec), StatusIs(Code::kInvalidArgument));
}

TEST_F(PosixProcessTest, StdinRoundTripThroughCat) {
  ProcessSpec spec{.path = "cat", .args = {"cat"}};
  spec.stdinMode = StdioMode::kPipe;
  spec.stdoutMode = StdioMode::kPipe;
  auto p = std::move(*runner_->spawn(spec));
  Stream* in = p->stdinStream();
  ASSERT_THAT(blockOn(*loop_, in->write("ping\n")), IsOk());
  ASSERT_THAT(in->shutdownWrite(), IsOk());  // EOF: cat exits
  EXPECT_EQ(blockOn(*loop_, readAll(p->stdoutStream())), "ping\n");
  EXPECT_EQ(blockOn(*loop_, p->wait()).exitCode, 0);
}

TEST_F(PosixProcessTest, SignalKillReportsSignal) {
  auto p = std::move(*runner_->spawn(ProcessSpec{.path = "sleep", .args = {"sleep", "1000"}}));
  ASSERT_THAT(p->signal(SIGKILL), IsOk());
  ExitStatus st = blockOn(*loop_, p->wait());
  EXPECT_TRUE(st.signaled());
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.exitCode, 137);
}

TEST_F(PosixProcessTest, SeveralWaitersAllSeeTheExit) {
  auto p = std::move(*runner_->spawn(ProcessSpec{.path = "true", .args = {"true"}}));
  int seen = 0;
  for (int i = 0; i < 3; ++i) {
    spawn([](Process& p, int& n) -> Task<void> {
      ExitStatus st = co_await p.wait();
      if (st.exitCode == 0) ++n;
    }(*p, seen));
  }
  loop_->runUntil([&] { return seen == 3; });
  EXPECT_EQ(seen, 3);
}

TEST_F(PosixProcessTest, EnvAndCwdAreApplied) {
  ProcessSpec spec{.path = "/bin/sh", .args = {"sh", "-c", "echo $FOO; pwd"}};
  spec.env = std::map<std::string, std::string>{{"FOO", "bar"}, {"PATH", "/usr/bin:/bin"}};
  spec.cwd = "/tmp";
  spec.stdoutMode = StdioMode::kPipe;
  auto p = std::move(*runner_->spawn(spec));
  EXPECT_EQ(blockOn(*loop_, readAll(p->stdoutStream())), "bar\n/tmp\n");
  blockOn(*loop_, p->wait());
}

TEST_F(PosixProcessTest, ExecFailureIsReportedNotAZombie) {
  auto p = runner_->spawn(ProcessSpec{.path = "/nonexistent/binary"});
  EXPECT_THAT(p, StatusIs(Code::kNotFound));
  EXPECT_THAT(runner_->spawn(ProcessSpec{.path = ""}), StatusIs(Code::kInvalidArgument));
  ProcessSpec badCwd{.path = "true", .cwd = "/nonexistent-dir"};
  EXPECT_THAT(runner_->spawn(badCwd), StatusIs(Code::kNotFound));
}

}  // namespace
}  // namespace hcsshim::runtime

namespace hcsshim::runtime {
namespace {

using ::hcsshim::testing::IsOk;

TEST_F(PosixProcessTest, TerminalSizeResizeAndEof) {
  ProcessSpec spec{.path = "/bin/sh",
                   .args = {"sh", "-c", "stty size; read line; stty size; echo got:$line; read rest; echo end:$?"}};
  spec.terminal = true;
  spec.terminalRows = 33;
  spec.terminalColumns = 101;
  auto p = std::move(*runner_->spawn(spec));
  Stream* tty = p->terminalStream();
  ASSERT_NE(tty, nullptr);
  EXPECT_EQ(p->stdinStream(), nullptr);
  auto readUntil = [&](const std::string& want) {
    return blockOn(*loop_, [](Stream* s, std::string want) -> Task<std::string> {
      std::string all;
      char buf[256];
      while (all.find(want) == std::string::npos) {
        auto n = co_await s->read(buf);
        if (!n.ok() || *n == 0) break;
        all.append(buf, *n);
      }
      co_return all;
    }(tty, want));
  };
  EXPECT_THAT(readUntil("33 101"), ::testing::HasSubstr("33 101"));
  ASSERT_THAT(p->resizeTerminal(40, 120), IsOk());
  ASSERT_THAT(blockOn(*loop_, tty->write("hello\n")), IsOk());
  std::string out = readUntil("got:hello");
  EXPECT_THAT(out, ::testing::HasSubstr("40 120"));
  EXPECT_THAT(out, ::testing::HasSubstr("got:hello"));
  ASSERT_THAT(tty->shutdownWrite(), IsOk());  // ^D: read fails, the shell goes on
  EXPECT_THAT(readUntil("end:1"), ::testing::HasSubstr("end:1"));
  EXPECT_EQ(blockOn(*loop_, p->wait()).exitCode, 0);
  // After exit the master reads EOF (EIO), not an error.
  auto rest = blockOn(*loop_, readToEnd(*tty));
  EXPECT_THAT(rest, IsOk());
  ProcessSpec plain{.path = "true"};
  auto q = std::move(*runner_->spawn(plain));
  EXPECT_EQ(q->resizeTerminal(1, 1).code(), Code::kUnimplemented);
  blockOn(*loop_, q->wait());
}

}  // namespace
}  // namespace hcsshim::runtime

namespace hcsshim::runtime {
namespace {

TEST_F(PosixProcessTest, IsolatedProcessIsPidOneWithItsOwnProc) {
  ProcessSpec spec{.path = "/bin/sh", .args = {"sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"}};
  spec.stdoutMode = StdioMode::kPipe;
  spec.isolate = true;
  auto p = std::move(*runner_->spawn(spec));
  std::string out = blockOn(*loop_, readAll(p->stdoutStream()));
  EXPECT_EQ(blockOn(*loop_, p->wait()).exitCode, 0);
  if (!p->isolated()) GTEST_SKIP() << "namespaces not permitted here (needs root/CAP_SYS_ADMIN)";
  // PID 1, and /proc shows only its own processes (itself, plus ls and grep).
  EXPECT_EQ(out.substr(0, 2), "1\n");
  int visible = std::stoi(out.substr(2));
  EXPECT_GE(visible, 1);
  EXPECT_LE(visible, 3);
  EXPECT_GT(p->pid(), 1) << "the parent sees the host pid";
}

}  // namespace
}  // namespace hcsshim::runtime

namespace hcsshim::runtime {
namespace {

TEST_F(PosixProcessTest, JoinedProcessSharesTheNamespaces) {
  ProcessSpec initSpec{.path = "sleep", .args = {"sleep", "1000"}};
  initSpec.isolate = true;
  auto init = std::move(*runner_->spawn(initSpec));
  if (!init->isolated()) {
    (void)init->signal(SIGKILL);
    blockOn(*loop_, init->wait());
    GTEST_SKIP() << "namespaces not permitted here";
  }
  ProcessSpec spec{.path = "/bin/sh", .args = {"sh", "-c", "echo $$; cat /proc/1/comm; exit 3"}};
  spec.stdoutMode = StdioMode::kPipe;
  spec.joinNamespacesOf = init->pid();
  auto p = runner_->spawn(spec);
  ASSERT_TRUE(p.ok()) << p.status();
  std::string out = blockOn(*loop_, readAll((*p)->stdoutStream()));
  EXPECT_EQ(blockOn(*loop_, (*p)->wait()).exitCode, 3) << "its exit code reaches us: it is our child";
  // Not PID 1 (sleep is), and it sees sleep as its namespace's init.
  EXPECT_NE(out.substr(0, 2), "1\n") << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\nsleep\n"));
  EXPECT_GT((*p)->pid(), 1);
  // Killing the namespace's init takes everything in it down.
  ProcessSpec sleeper{.path = "sleep", .args = {"sleep", "1000"}};
  sleeper.joinNamespacesOf = init->pid();
  auto q = std::move(*runner_->spawn(sleeper));
  ASSERT_THAT(init->signal(SIGKILL), ::hcsshim::testing::IsOk());
  EXPECT_EQ(blockOn(*loop_, q->wait()).signal, SIGKILL);
  blockOn(*loop_, init->wait());
  ProcessSpec bad{.path = "true", .joinNamespacesOf = 999999999};
  EXPECT_EQ(runner_->spawn(bad).status().code(), Code::kNotFound);
}

// As a child subreaper we inherit orphaned grandchildren: adopt() tracks one
// (its exit code is ours to see) and reapOrphans() reaps the rest.
TEST_F(PosixProcessTest, AdoptsAndReapsReparentedGrandchildren) {
  ASSERT_THAT(becomeChildSubreaper(), IsOk());
  ProcessSpec spec{.path = "/bin/sh",
                   .args = {"sh", "-c", "(sleep 0.3; exit 7) & echo $!; (sleep 0.1; exit 0) & echo $!"}};
  spec.stdoutMode = StdioMode::kPipe;
  auto parent = std::move(*runner_->spawn(spec));
  std::string out = blockOn(*loop_, readAll(parent->stdoutStream()));
  EXPECT_EQ(blockOn(*loop_, parent->wait()).exitCode, 0);
  int adoptee = 0, orphan = 0;
  ASSERT_EQ(std::sscanf(out.c_str(), "%d %d", &adoptee, &orphan), 2) << out;

  auto adopted = runner_->adopt(adoptee);
  ASSERT_THAT(adopted, IsOk());
  EXPECT_EQ(blockOn(*loop_, (*adopted)->wait()).exitCode, 7) << "the exit code of a process we did not spawn";

  // The other one exited untracked: a zombie until the reaper's second look.
  std::string procDir = "/proc/" + std::to_string(orphan);
  ASSERT_EQ(access(procDir.c_str(), F_OK), 0) << "a zombie until reaped";
  runner_->reapOrphans();
  EXPECT_EQ(access(procDir.c_str(), F_OK), 0) << "one reaper period of grace";
  EXPECT_EQ(runner_->reapOrphans(), 1u);
  EXPECT_NE(access(procDir.c_str(), F_OK), 0);
  EXPECT_THAT(runner_->adopt(1), StatusIs(Code::kFailedPrecondition)) << "not our child";
}

}  // namespace
}  // namespace hcsshim::runtime

namespace hcsshim::runtime {
namespace {

// A child that cannot be set up says which step failed, and leaks nothing.
TEST(PosixProcessSetupTest, AFailedStepIsNamedAndNoDescriptorLeaks) {
  auto loop = std::move(*EpollEventLoop::create());
  PosixProcessRunner runner(*loop);
  auto openFds = [] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      (void)e;
      ++n;
    }
    return n;
  };
  int before = openFds();
  ProcessSpec cg{.path = "/bin/true", .args = {"true"}};
  cg.stdoutMode = StdioMode::kPipe;
  cg.stderrMode = StdioMode::kPipe;
  cg.cgroups = {"/nonexistent-cgroup-dir"};
  auto p = runner.spawn(cg);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().toString(), ::testing::HasSubstr("joining a cgroup"));
  ProcessSpec cwd{.path = "/bin/true", .args = {"true"}, .cwd = "/nonexistent-dir"};
  cwd.stdinMode = StdioMode::kPipe;
  auto q = runner.spawn(cwd);
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.status().toString(), ::testing::HasSubstr("changing directory"));
  ProcessSpec missing{.path = "/no/such/binary"};
  missing.terminal = true;
  auto r = runner.spawn(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().toString(), ::testing::HasSubstr("exec(/no/such/binary)"));
  EXPECT_EQ(openFds(), before) << "every pipe and the pty were closed on the failure paths";
}

}  // namespace
}  // namespace hcsshim::runtime
