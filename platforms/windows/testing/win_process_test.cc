// WinProcessRunner under Wine (or on Windows), with win_child.exe next to
// the test: argv quoting round trips, stdio pipes both ways, exit codes,
// terminate as SIGKILL, the environment, and what Windows cannot do.
#include <gtest/gtest.h>
#include <windows.h>

#include <filesystem>

#include "platforms/windows/windows_runtime.h"

namespace hcsshim::platforms::windows {
namespace {

using runtime::Task;

std::string childPath() {
  wchar_t self[MAX_PATH];
  GetModuleFileNameW(nullptr, self, MAX_PATH);
  return (std::filesystem::path(self).parent_path() / "win_child_exe.exe").string();
}

class WinProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rt = WindowsRuntime::create("process-test");
    ASSERT_TRUE(rt.ok()) << rt.status().toString();
    rt_ = std::move(*rt);
  }
  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }
  runtime::ProcessSpec child(std::vector<std::string> args) {
    runtime::ProcessSpec s{.path = childPath()};
    s.args = {"win_child"};
    s.args.insert(s.args.end(), args.begin(), args.end());
    s.stdoutMode = runtime::StdioMode::kPipe;
    s.stderrMode = runtime::StdioMode::kPipe;
    return s;
  }
  std::string out(runtime::Process& p) {
    auto r = run(runtime::readToEnd(*p.stdoutStream()));
    return r.ok() ? *r : "<" + r.status().toString() + ">";
  }
  std::unique_ptr<WindowsRuntime> rt_;
};

TEST_F(WinProcessTest, ArgumentsArriveAsTheyWereGiven) {
  std::vector<std::string> args = {"plain", "with space", "", "quote\"inside", "trailing\\", "back\\\\\"slashes",
                                   "tab\there", "\u00fcnicode"};
  auto p = rt_->processes().spawn(child([&] {
    std::vector<std::string> a = {"args"};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }()));
  ASSERT_TRUE(p.ok()) << p.status().toString();
  std::string text = out(**p);
  std::string want;
  for (size_t i = 0; i < args.size() - 1; ++i) want += "[" + args[i] + "]\n";  // (the last: the console code page)
  EXPECT_EQ(text.substr(0, want.size()), want);
  EXPECT_EQ(run((*p)->wait()).exitCode, 0);
}

TEST_F(WinProcessTest, StdinGoesInStdoutAndStderrComeOutAndTheExitCodeIsKept) {
  auto spec = child({"cat"});
  spec.stdinMode = runtime::StdioMode::kPipe;
  auto p = rt_->processes().spawn(spec);
  ASSERT_TRUE(p.ok()) << p.status().toString();
  ASSERT_TRUE(run((*p)->stdinStream()->write("hello through a pipe")).ok());
  (*p)->stdinStream()->close();  // EOF for the child
  EXPECT_EQ(out(**p), "hello through a pipe");
  EXPECT_EQ(run((*p)->wait()), (runtime::ExitStatus{0, 0}));

  auto e = rt_->processes().spawn(child({"exit", "7"}));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(out(**e), "out");
  auto err = run(runtime::readToEnd(*(*e)->stderrStream()));
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(*err, "err");
  EXPECT_EQ(run((*e)->wait()).exitCode, 7);
  EXPECT_EQ((*e)->signal(0).code(), Code::kNotFound) << "a process that exited";
}

TEST_F(WinProcessTest, KillTerminatesARunningProcess) {
  auto spec = child({"sleep"});
  spec.stdoutMode = spec.stderrMode = runtime::StdioMode::kNull;
  auto p = rt_->processes().spawn(spec);
  ASSERT_TRUE(p.ok()) << p.status().toString();
  EXPECT_TRUE((*p)->signal(0).ok()) << "it runs";
  EXPECT_EQ((*p)->signal(2).code(), Code::kInvalidArgument) << "SIGINT has no Windows meaning here";
  ASSERT_TRUE((*p)->signal(9).ok());
  auto st = run((*p)->wait());
  EXPECT_EQ(st.signal, 9);
  EXPECT_EQ(st.exitCode, 137);
}

TEST_F(WinProcessTest, TheEnvironmentIsExactlyTheOneGiven) {
  auto spec = child({"env", "HCS_TEST_VALUE"});
  spec.env = std::map<std::string, std::string>{{"HCS_TEST_VALUE", "v=1 w"}, {"SystemRoot", "C:\\windows"}};
  auto p = rt_->processes().spawn(spec);
  ASSERT_TRUE(p.ok()) << p.status().toString();
  EXPECT_EQ(out(**p), "v=1 w");
  auto spec2 = child({"env", "PATH"});
  spec2.env = std::map<std::string, std::string>{{"SystemRoot", "C:\\windows"}};
  auto q = rt_->processes().spawn(spec2);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(out(**q), "<unset>");
}

TEST_F(WinProcessTest, WhatWindowsHasNoneOfIsRefusedByName) {
  auto t = child({"args"});
  t.terminal = true;
  EXPECT_EQ(rt_->processes().spawn(t).status().code(), Code::kUnimplemented);
  auto n = child({"args"});
  n.isolate = true;
  auto r = rt_->processes().spawn(n);
  EXPECT_EQ(r.status().code(), Code::kUnimplemented);
  EXPECT_NE(r.status().message().find("namespaces"), std::string::npos) << r.status().toString();
  auto missing = child({"args"});
  missing.path = "C:\\no\\such\\program.exe";
  auto m = rt_->processes().spawn(missing);
  EXPECT_EQ(m.status().code(), Code::kUnavailable) << m.status().toString();
  auto bad = child({"args"});
  bad.env = std::map<std::string, std::string>{{"A=B", "x"}};
  EXPECT_EQ(rt_->processes().spawn(bad).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace hcsshim::platforms::windows
