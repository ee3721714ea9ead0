// Real-process faults, outside the simulation: kill -9 of the shim, of the
// fake HCS daemon and of a utility VM's guest agent, and containerd
// restarted, at each step of a task's life - running, with an exec running,
// paused, exited and not yet deleted. Afterwards the task is waitable (and
// ends with the exit status containerd reports) or cleanly gone, and once it
// is deleted nothing of it is left on the host: no shim, VM or guest
// process, no compute system in HCS, no mount under the test's directory,
// no VM cgroup, no layer image, no shim socket.
#include <signal.h>

#include <fstream>

#include "functional/shim_fixture.h"
#include "src/common/sha256.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

enum class Victim { kShim, kHcsDaemon, kGuestAgent, kContainerdRestart };
enum class Step { kRunning, kExecRunning, kPaused, kExited };

struct KillCase {
  Victim victim;
  Step step;
};

std::string victimName(Victim v) {
  switch (v) {
    case Victim::kShim: return "Shim";
    case Victim::kHcsDaemon: return "HcsDaemon";
    case Victim::kGuestAgent: return "GuestAgent";
    case Victim::kContainerdRestart: return "ContainerdRestart";
  }
  return "?";
}

std::string stepName(Step s) {
  switch (s) {
    case Step::kRunning: return "Running";
    case Step::kExecRunning: return "ExecRunning";
    case Step::kPaused: return "Paused";
    case Step::kExited: return "Exited";
  }
  return "?";
}

class KillMatrixTest : public ShimTest, public ::testing::WithParamInterface<KillCase> {
 protected:
  static constexpr const char* kId = "victim";

  void TearDown() override {
    // A failed case must not leave its processes behind (a frozen guest
    // would hang the test runner, which waits for its children): thaw the
    // VM's freezer group, kill what is left, then the usual teardown.
    if (ctd_ && hcs_ && HasFailure()) {
      std::error_code ec;
      std::string vm = "runhcs-" + std::string(kId);
      for (const auto& g : fs::directory_iterator("/sys/fs/cgroup/freezer", ec)) {  // v1
        if (fs::exists(g.path() / vm / "freezer.state", ec)) std::ofstream(g.path() / vm / "freezer.state") << "THAWED";
      }
      for (const auto& g : fs::directory_iterator("/sys/fs/cgroup", ec)) {  // v2
        if (fs::exists(g.path() / vm / "cgroup.freeze", ec)) std::ofstream(g.path() / vm / "cgroup.freeze") << "0";
      }
      for (int pid : {shimPid(), guestPid()}) {
        if (pid > 0) ::kill(pid, SIGKILL);
      }
    }
    ShimTest::TearDown();
  }

  std::string hcsDir() const { return fs::path(hcs_->address().substr(7)).parent_path().string() + "/"; }
  int shimPid() { return pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", kId, "serve"}); }
  // guestPid: the VM's process - the guest agent itself on the sim backend,
  // QEMU on the qemu backend (where "killing the guest agent" is killing the
  // VM: the agent is inside it).
  int guestPid() {
    if (functional::HcsFakeDaemon::backend() == "qemu") return pidOf({"qemu-system", "runhcs-" + std::string(kId)});
    return pidOf({hcsDir(), "--sim-vm"});
  }

  // taskLine: the task's line of `ctr task ls` ("" if it is not listed).
  std::string taskLine() {
    auto [code, out] = ctr({"task", "ls"});
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(std::string(kId) + " ", 0) == 0) return line;
    }
    return "";
  }

  // bring runs the task to `step`.
  void bring(Step step) {
    std::vector<std::string> args = {"run", "-d", "--runtime", kRuntime, kImage, kId};
    if (step == Step::kExited) {
      args.insert(args.end(), {"sh", "-c", "exit 3"});
    } else {
      args.insert(args.end(), {"sleep", "1000"});
    }
    auto [code, out] = ctr(args);
    ASSERT_EQ(code, 0) << out;
    switch (step) {
      case Step::kRunning: break;
      case Step::kExecRunning:
        std::tie(code, out) = ctr({"task", "exec", "--detach", "--exec-id", "e1", kId, "sleep", "1000"});
        ASSERT_EQ(code, 0) << out;
        break;
      case Step::kPaused:
        std::tie(code, out) = ctr({"task", "pause", kId});
        ASSERT_EQ(code, 0) << out;
        ASSERT_TRUE(eventually([&] { return taskLine().find("PAUSED") != std::string::npos; })) << taskLine();
        break;
      case Step::kExited:
        ASSERT_TRUE(eventually([&] { return taskLine().find("STOPPED") != std::string::npos; })) << taskLine();
        break;
    }
    ASSERT_GT(shimPid(), 0);
    ASSERT_GT(guestPid(), 0);
  }

  // strike does the victim's fault.
  void strike(Victim v) {
    switch (v) {
      case Victim::kShim: {
        int pid = shimPid();
        ASSERT_GT(pid, 0);
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        break;
      }
      case Victim::kHcsDaemon: {
        // vmcompute dying: the service manager starts it again.
        ASSERT_EQ(::kill(hcs_->pid(), SIGKILL), 0);
        (void)hcs_->stop();
        ASSERT_NO_FATAL_FAILURE(startHcs());
        break;
      }
      case Victim::kGuestAgent: {
        int pid = guestPid();
        ASSERT_GT(pid, 0);
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        break;
      }
      case Victim::kContainerdRestart:
        ASSERT_THAT(runtime::blockOn(rt_->loop(), ctd_->restart()), IsOk());
        break;
    }
  }

  // leftovers: what of the task is still on the host, one line each.
  std::vector<std::string> leftovers() {
    std::vector<std::string> found;
    if (int pid = shimPid()) found.push_back("shim process " + std::to_string(pid));
    if (int pid = guestPid()) found.push_back("guest (VM) process " + std::to_string(pid));
    if (size_t n = systemCount(*rt_, hcs_->address()); n != 0) found.push_back(std::to_string(n) + " compute systems");
    std::ifstream mounts("/proc/self/mountinfo");
    for (std::string line; std::getline(mounts, line);) {
      if (line.find(dir_) != std::string::npos) found.push_back("mount " + line);
    }
    std::error_code ec;
    // The VM's cgroup, under any daemon's parent group (v2: /sys/fs/cgroup/
    // hcs-fake-<owner>; v1: the same in each hierarchy).
    auto daemonGroups = [&](const fs::path& root) {
      for (const auto& parent : fs::directory_iterator(root, ec)) {
        if (parent.path().filename().string().rfind("hcs-fake-", 0) != 0) continue;
        if (fs::exists(parent.path() / ("runhcs-" + std::string(kId)), ec)) found.push_back("cgroup " + parent.path().string());
      }
    };
    daemonGroups("/sys/fs/cgroup");
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      if (h.path().filename().string().rfind("hcs-fake-", 0) != 0) daemonGroups(h.path());
    }
    for (const auto& e : fs::directory_iterator(dir_ + "/layers", ec)) {
      if (fs::exists(e.path() / "layer.vhd")) found.push_back("layer image " + e.path().string());
    }
    std::string socket = "/run/containerd/s/" + sha256Hex(ctd_->grpcAddress() + "/default/" + kId);
    if (fs::exists(socket, ec)) found.push_back("shim socket " + socket);
    return found;
  }
};

TEST_P(KillMatrixTest, TheTaskEndsOrSurvivesAndNothingIsLeft) {
  const KillCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(bring(c.step));
  ASSERT_NO_FATAL_FAILURE(strike(c.victim));
  int code = 0;
  std::string out;
  if (c.victim == Victim::kContainerdRestart) {
    // The shim outlives containerd: the task is still in its state and
    // answers; containerd's usual end of it works.
    std::string before = c.step == Step::kExited ? "STOPPED" : c.step == Step::kPaused ? "PAUSED" : "RUNNING";
    EXPECT_TRUE(eventually([&] { return taskLine().find(before) != std::string::npos; })) << taskLine();
    if (c.step == Step::kPaused) {
      std::tie(code, out) = ctr({"task", "resume", kId});
      EXPECT_EQ(code, 0) << out;
    }
    if (c.step != Step::kExited) {
      std::tie(code, out) = ctr({"task", "kill", "-a", "-s", "SIGKILL", kId});
      EXPECT_EQ(code, 0) << out;
    }
  }
  bool guestHeld = c.victim == Victim::kGuestAgent && c.step == Step::kPaused &&
                   !eventually([&] { return guestPid() == 0; }, std::chrono::seconds(1));
  if (guestHeld) {
    // Nothing in a paused VM runs, its agent's death included (the v1
    // freezer holds SIGKILL until thawed; v2's lets a fatal signal through,
    // and then the task ends by itself): it stays paused until resumed.
    EXPECT_NE(taskLine().find("PAUSED"), std::string::npos) << taskLine();
    std::tie(code, out) = ctr({"task", "resume", kId});
    EXPECT_EQ(code, 0) << out;
  }
  // Whatever happened, the task's init ends (or the task is gone) within a
  // bound, and containerd's delete then succeeds.
  EXPECT_TRUE(eventually([&] {
    std::string line = taskLine();
    return line.empty() || line.find("STOPPED") != std::string::npos;
  }, std::chrono::seconds(30)))
      << "the task never ended: " << taskLine();
  if (!taskLine().empty()) {
    std::tie(code, out) = ctr({"task", "delete", kId});
    EXPECT_EQ(code, 0) << out;
    if (c.step == Step::kExited && c.victim == Victim::kContainerdRestart) {
      EXPECT_THAT(out, HasSubstr("3"));
    }
  }
  std::tie(code, out) = ctr({"containers", "delete", kId});
  EXPECT_EQ(code, 0) << out;
  // Nothing of it is left (cleanup may finish just after containerd answers).
  std::vector<std::string> left;
  eventually([&] {
    left = leftovers();
    return left.empty();
  }, std::chrono::seconds(20));
  EXPECT_THAT(left, ::testing::IsEmpty());
}

std::vector<KillCase> allCases() {
  std::vector<KillCase> out;
  for (Victim v : {Victim::kShim, Victim::kHcsDaemon, Victim::kGuestAgent, Victim::kContainerdRestart}) {
    for (Step s : {Step::kRunning, Step::kExecRunning, Step::kPaused, Step::kExited}) out.push_back({v, s});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Matrix, KillMatrixTest, ::testing::ValuesIn(allCases()),
                         [](const ::testing::TestParamInfo<KillCase>& i) {
                           return victimName(i.param.victim) + "At" + stepName(i.param.step);
                         });

}  // namespace
}  // namespace hcsshim
