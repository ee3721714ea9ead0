// containerd-shim-runhcs-v1.exe as containerd on Windows drives it, run under
// Wine against the fake HCS through the stand-in computecore.dll
// (shim_wine_test.sh): start serves the group's named pipe and prints it,
// the log pipe carries the shim's log, the task service answers over the
// pipe, Create reaches HCS and fails precisely where Wine has no Hyper-V
// sockets (the VM is removed: the script checks the fake), Shutdown ends
// the server, delete prints a DeleteResponse in binary.
//
// $SHIM_EXE: the shim; $SHIM_BOOT_FILES: a folder with kernel + initrd.img.
#include <windows.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "platforms/windows/windows_runtime.h"
#include "src/common/json.h"
#include "src/containerd/api/task.pb.h"
#include "src/runtime/read_file.h"
#include "src/ttrpc/client.h"

#undef stdin
#undef stdout
#undef stderr

namespace hcsshim {
namespace {

namespace fs = std::filesystem;
namespace taskv2 = containerd::task::v2;
using runtime::Task;
using ::testing::HasSubstr;

constexpr const char* kTask = "containerd.task.v2.Task";

struct ShimRun {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

class ShimUnderWine : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rt = platforms::windows::WindowsRuntime::create("shim-wine-test");
    ASSERT_TRUE(rt.ok()) << rt.status().toString();
    rt_ = std::move(*rt);
    const char* exe = std::getenv("SHIM_EXE");
    const char* boot = std::getenv("SHIM_BOOT_FILES");
    ASSERT_TRUE(exe && boot) << "SHIM_EXE and SHIM_BOOT_FILES name the shim and its boot files";
    exe_ = exe;
    boot_ = boot;
    ns_ = "wine" + std::to_string(GetCurrentProcessId());
    root_ = fs::temp_directory_path() / ("shim-wine-" + std::to_string(GetCurrentProcessId()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_);
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }

  // bundle: a task's bundle as containerd lays it out (config.json, rootfs/).
  std::string bundle(const std::string& id, const std::string& sandbox = "") {
    fs::path dir = root_ / id;
    fs::create_directories(dir / "rootfs");
    std::string annotations = "\"io.microsoft.virtualmachine.lcow.bootfilesrootpath\": " + Json(boot_).dump();
    if (!sandbox.empty()) {
      annotations += ", \"io.kubernetes.cri.container-type\": \"container\", \"io.kubernetes.cri.sandbox-id\": " +
                     Json(sandbox).dump();
    }
    std::ofstream(dir / "config.json") << R"({"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/"},
        "root": {"path": "rootfs"}, "linux": {}, "annotations": {)" << annotations << "}}";
    return dir.string();
  }

  // shim runs the shim as containerd does: flags, then the verb, in the bundle.
  ShimRun shim(const std::string& id, const std::string& dir, const std::string& verb) {
    runtime::ProcessSpec spec{.path = exe_,
                              .args = {exe_, "-namespace", ns_, "-address", "\\\\.\\pipe\\containerd-containerd",
                                       "-publish-binary", "containerd.exe", "-id", id, "-bundle", dir, verb}};
    spec.cwd = dir;
    spec.stdoutMode = runtime::StdioMode::kPipe;
    spec.stderrMode = runtime::StdioMode::kPipe;
    auto p = rt_->processes().spawn(spec);
    if (!p.ok()) return ShimRun{.err = p.status().toString()};
    ShimRun r;
    auto out = run(runtime::readToEnd(*(*p)->stdoutStream()));
    auto err = run(runtime::readToEnd(*(*p)->stderrStream()));
    if (out.ok()) r.out = *out;
    if (err.ok()) r.err = *err;
    r.code = run((*p)->wait()).exitCode;
    return r;
  }

  std::string pipe(const std::string& group) {
    return "\\\\.\\pipe\\ProtectedPrefix\\Administrators\\containerd-shim-" + ns_ + "-" + group + "-pipe";
  }

  std::unique_ptr<ttrpc::Client> connect(const std::string& address) {
    auto c = run(ttrpc::Client::connect(*rt_, address));
    EXPECT_TRUE(c.ok()) << address << ": " << c.status().toString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // gone: the server stops serving its pipe within ~10 s.
  bool gone(const std::string& address) {
    for (int i = 0; i < 200; ++i) {
      auto c = run(rt_->transport().connect(address));
      if (!c.ok()) return true;
      (*c)->close();
      run([](runtime::EventLoop& l) -> Task<void> { co_await runtime::sleep(l, std::chrono::milliseconds(50)); }(
          rt_->loop()));
    }
    return false;
  }

  std::unique_ptr<platforms::windows::WindowsRuntime> rt_;
  std::string exe_, boot_, ns_;
  fs::path root_;
};

TEST_F(ShimUnderWine, StartServesTheGroupsPipeWhichThePodsContainersReuse) {
  std::string pod = bundle("pod");
  ShimRun r = shim("pod", pod, "start");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, pipe("pod")) << "start prints only the address";
  EXPECT_EQ(runtime::readFile(pod + "\\address", 4096).value_or(""), pipe("pod"));
  // A container of the pod joins the sandbox's shim.
  std::string c1 = bundle("c1", "pod");
  ShimRun again = shim("c1", c1, "start");
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_EQ(again.out, pipe("pod"));
  auto client = connect(pipe("pod"));
  ASSERT_NE(client, nullptr);
  taskv2::ConnectRequest cr;
  cr.set_id("pod");
  auto info = run(client->call<taskv2::ConnectRequest, taskv2::ConnectResponse>(kTask, "Connect", cr));
  ASSERT_TRUE(info.ok()) << info.status().toString();
  EXPECT_NE(info->shim_pid(), 0u);
  EXPECT_NE(info->shim_pid(), GetCurrentProcessId()) << "the long-lived server, not start";
  taskv2::ShutdownRequest down;
  down.set_id("pod");
  auto shut = run(client->call(kTask, "Shutdown", down.SerializeAsString()));
  EXPECT_TRUE(shut.ok()) << shut.status().toString();
  client->close();
  EXPECT_TRUE(gone(pipe("pod"))) << "Shutdown without tasks ends the server";
}

TEST_F(ShimUnderWine, TheLogPipeCarriesTheShimsLogFromItsStart) {
  std::string b = bundle("logged");
  ShimRun r = shim("logged", b, "start");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto log = run(rt_->transport().connect("\\\\.\\pipe\\containerd-shim-" + ns_ + "-logged-log"));
  ASSERT_TRUE(log.ok()) << log.status().toString();
  auto client = connect(pipe("logged"));
  ASSERT_NE(client, nullptr);
  taskv2::ShutdownRequest down;
  down.set_id("logged");
  auto shut = run(client->call(kTask, "Shutdown", down.SerializeAsString()));
  EXPECT_TRUE(shut.ok()) << shut.status().toString();
  // The lines logged before containerd connected come first, then the rest,
  // until the server exits and the pipe ends.
  auto all = run(runtime::readToEnd(**log));
  ASSERT_TRUE(all.ok()) << all.status().toString();
  EXPECT_THAT(*all, HasSubstr("event=shim.serving id=logged"));
  EXPECT_THAT(*all, HasSubstr("event=shim.exiting id=logged"));
  // No LinuxBootFiles next to the executable: hcsshim's other default.
  EXPECT_THAT(*all, HasSubstr("Linux Containers"));
  EXPECT_LT(all->find("shim.serving"), all->find("shim.exiting"));
}

TEST_F(ShimUnderWine, CreateReachesHcsAndFailsPreciselyWithoutHyperVSockets) {
  std::string b = bundle("task");
  ShimRun r = shim("task", b, "start");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto client = connect(pipe("task"));
  ASSERT_NE(client, nullptr);
  taskv2::StateRequest sr;
  sr.set_id("nope");
  auto state = run(client->call(kTask, "State", sr.SerializeAsString()));
  EXPECT_EQ(state.status().code(), Code::kNotFound) << state.status().toString();
  taskv2::CreateTaskRequest create;
  create.set_id("task");
  create.set_bundle(b);
  // Stdio Windows has no endpoint for is refused before anything runs.
  create.set_stdout("file:///C:/out.txt");
  auto refused = run(client->call(kTask, "Create", create.SerializeAsString()));
  EXPECT_EQ(refused.status().code(), Code::kUnimplemented) << refused.status().toString();
  EXPECT_THAT(refused.status().message(), HasSubstr("file://"));
  create.set_stdout("C:\\not-a-pipe");
  refused = run(client->call(kTask, "Create", create.SerializeAsString()));
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << refused.status().toString();
  create.set_stdout("");
  // The VM is created through computecore.dll; its bridge listener needs AF_HYPERV.
  auto created = run(client->call(kTask, "Create", create.SerializeAsString()));
  ASSERT_FALSE(created.ok());
  EXPECT_THAT(created.status().message(), HasSubstr("AF_HYPERV")) << created.status().toString();
  sr.set_id("task");
  state = run(client->call(kTask, "State", sr.SerializeAsString()));
  EXPECT_EQ(state.status().code(), Code::kNotFound) << "a failed Create keeps nothing: " << state.status().toString();
  taskv2::ShutdownRequest down;
  down.set_id("task");
  auto shut = run(client->call(kTask, "Shutdown", down.SerializeAsString()));
  EXPECT_TRUE(shut.ok()) << shut.status().toString();
  client->close();
  EXPECT_TRUE(gone(pipe("task")));
}

TEST_F(ShimUnderWine, DeletePrintsARawDeleteResponse) {
  std::string b = bundle("dead");
  ShimRun r = shim("dead", b, "delete");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  taskv2::DeleteResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.out)) << "stdout is the message's bytes, untranslated";
  EXPECT_EQ(resp.exit_status(), 137u);
  EXPECT_EQ(resp.SerializeAsString(), r.out);
  EXPECT_GT(resp.exited_at().seconds(), 0);
}

TEST_F(ShimUnderWine, StartWithoutHcsSaysWhatIsMissing) {
  // A host without the Containers feature has no computecore.dll.
  fs::path dll = fs::path("C:\\windows\\system32\\computecore.dll"), off = dll;
  off += ".off";
  ASSERT_TRUE(fs::exists(dll)) << "the stand-in is installed";
  fs::rename(dll, off);
  std::string b = bundle("nohcs");
  ShimRun r = shim("nohcs", b, "start");
  fs::rename(off, dll);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "") << "nothing containerd would take for an address";
  EXPECT_THAT(r.err, HasSubstr("computecore.dll"));
  EXPECT_THAT(r.err, HasSubstr("Containers and Hyper-V features"));
  EXPECT_FALSE(fs::exists(fs::path(b) / "address"));
  EXPECT_FALSE(run(rt_->transport().connect(pipe("nohcs"))).ok()) << "no server was left behind";
}

TEST_F(ShimUnderWine, UsageErrorsExitTwo) {
  ShimRun r = shim("x", root_.string(), "frobnicate");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("unknown verb frobnicate"));
}

}  // namespace
}  // namespace hcsshim
