// tools/uvmboot as a user runs it: 8 utility VMs, 4 at a time, each running
// `echo hi`, against its own fake HCS - and nothing left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "functional/harness/hcs_fake_daemon.h"
#include "hcs_fake/owner.h"
#include "src/runtime/read_file.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
namespace fs = std::filesystem;

// hostLeftovers: uvmboot's temp dirs and processes, and the cgroups of the
// fake HCS it started (/hcs-fake-<its owner name>: hcs_fake/owner.h) - other suites may run a fake HCS
// of their own at the same time; theirs are not this run's business.
std::set<std::string> hostLeftovers(int daemonPid) {
  std::set<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/tmp", ec)) {
    if (e.path().filename().string().rfind("uvmboot-", 0) == 0) found.insert(e.path().string());
  }
  if (daemonPid > 0) {
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      fs::path cg = h.path() / ("hcs-fake-" + hcs_fake::ownerNameOf(daemonPid));
      if (fs::exists(cg, ec)) found.insert(cg.string());
    }
  }
  std::string qemuRoot = "/tmp/hcs-fake-qemu-" + hcs_fake::ownerNameOf(daemonPid);
  if (daemonPid > 0 && fs::exists(qemuRoot, ec)) found.insert(qemuRoot);
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    std::string line = runtime::readFile(std::string(p.path() / "cmdline")).value_or("");
    bool ours = line.find("/tmp/uvmboot-") != std::string::npos ||
                (daemonPid > 0 && line.find(qemuRoot) != std::string::npos);
    if (ours) found.insert("process " + p.path().filename().string());
  }
  return found;
}

// Under HCS_BACKEND=qemu: two real VMs, both at once (TCG boots take seconds).
TEST(UvmbootTest, EightVmsFourAtATimeLeaveNothingBehind) {
  if (geteuid() != 0) GTEST_SKIP() << "the sim VM backend needs root";
  bool qemu = functional::HcsFakeDaemon::backend() == "qemu";
  const std::string count = qemu ? "2" : "8", parallel = qemu ? "2" : "4";
  auto rt = std::move(*runtime::RealRuntime::create("uvmboot-test"));
  std::set<std::string> before = hostLeftovers(0);  // another run's leaks are not this run's
  std::string bin = functional::HcsFakeDaemon::runfile("tools/uvmboot/uvmboot");
  runtime::ProcessSpec spec{.path = bin,
                            .args = {bin, "lcow", "--count", count, "--parallel", parallel, "--exec", "echo hi",
                                     "--address", "unix:///tmp/uvmboot-test-nothing-here/hcs.sock"}};
  spec.stdoutMode = runtime::StdioMode::kPipe;
  auto p = rt->processes().spawn(spec);
  ASSERT_THAT(p, IsOk());
  auto out = runtime::blockOn(rt->loop(), runtime::readToEnd(*(*p)->stdoutStream()));
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(runtime::blockOn(rt->loop(), (*p)->wait()).exitCode, 0) << *out;
  EXPECT_THAT(*out, ::testing::HasSubstr(count + " VMs (" + parallel + " at a time)"));
  EXPECT_THAT(*out, ::testing::HasSubstr("0 failed"));
  int booted = 0, his = 0;
  std::istringstream lines(*out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("booted in") != std::string::npos && line.find("exit code 0") != std::string::npos) ++booted;
    if (line == "  hi") ++his;
  }
  EXPECT_EQ(booted, std::stoi(count)) << *out;
  EXPECT_EQ(his, std::stoi(count)) << *out;
  int daemonPid = 0;
  auto at = out->find("started a fake HCS (pid ");
  if (at != std::string::npos) daemonPid = std::atoi(out->c_str() + at + 24);
  EXPECT_GT(daemonPid, 0) << "uvmboot says which fake HCS it started: " << *out;
  std::set<std::string> after = hostLeftovers(daemonPid), added;
  for (const auto& f : after) {
    if (!before.count(f)) added.insert(f);
  }
  EXPECT_THAT(added, ::testing::IsEmpty());
}

}  // namespace
}  // namespace hcsshim
