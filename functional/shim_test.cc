// containerd-shim-runhcs-v1 with Debian's real containerd and ctr: tasks run
// in utility VMs on the fake HCS (sim backend, real gcs and runc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "functional/shim_fixture.h"
#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/daemon_hns.h"
#include "src/runtime/read_file.h"
#include "src/containerd/api/task.pb.h"
#include "src/hns/hcn.h"
#include "src/ttrpc/client.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/wait_for.h"
#include "src/ext4/image_trailers.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST_F(ShimTest, CtrRunEchoHello) {
  auto [code, out] = ctr({"run", "--runtime", kRuntime, "--rm", kImage, "hello1", "echo", "hello"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "hello\n");
}

// By default each of containerd's layers reaches the VM as an ext4 image
// on a block device (VPMem, else SCSI) and the container writes to a
// scratch disk on SCSI, as in hcsshim's LCOW; the image is made once per
// layer, shared by the tasks that use it and removed with the last of them.
// The annotation io.hcsshim-cpp.lcow.layers=plan9 shares the directories
// instead.
TEST_F(ShimTest, LayersAreExt4ImagesOnBlockDevicesSharedAndReleased) {
  std::string store = dir_ + "/layers";
  auto images = [&] {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(store, ec)) {
      if (fs::exists(e.path() / "layer.vhd")) found.push_back(e.path().string());
    }
    return found;
  };
  auto refs = [&](const std::string& entry) {
    int n = 0;
    std::error_code ec;
    for (const auto& r : fs::directory_iterator(entry + "/refs", ec)) n += r.is_regular_file() ? 1 : 0;
    return n;
  };
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, kImage, "ext4-a", "sleep", "1000"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = ctr({"run", "-d", "--runtime", kRuntime, kImage, "ext4-b", "sleep", "1000"});
  ASSERT_EQ(code, 0) << out;
  ASSERT_EQ(images().size(), 1u) << "one image of the one layer";
  std::string entry = images()[0];
  EXPECT_EQ(refs(entry), 2) << "held by both tasks";
  // e2fsprogs' view of the image: a clean, read-only ext4 with busybox on it.
  std::string report;
  auto fsck = runtime::blockOn(rt_->loop(), [](runtime::Runtime& rt, std::string image, std::string& report) -> runtime::Task<int> {
    runtime::ProcessSpec spec{.path = "e2fsck", .args = {"e2fsck", "-fn", image}};
    spec.stdoutMode = runtime::StdioMode::kPipe;
    spec.stderrMode = runtime::StdioMode::kNull;
    auto p = rt.processes().spawn(spec);
    if (!p.ok()) co_return -1;
    auto text = co_await runtime::readToEnd(*(*p)->stdoutStream());
    if (text.ok()) report = *text;
    co_return (co_await (*p)->wait()).exitCode;
  }(*rt_, entry + "/layer.vhd", report));
  EXPECT_EQ(fsck, 0) << "e2fsck -fn " << entry << "/layer.vhd:\n" << report;
  // Inside: the root is an overlay of the block-device layer over the scratch disk.
  std::tie(code, out) = ctr({"task", "exec", "--exec-id", "m", "ext4-a", "sh", "-c", "grep ' / ' /proc/mounts; echo hi > /written; cat /written"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("lowerdir=/run/layers/p0"));
  EXPECT_THAT(out, ::testing::ContainsRegex("upperdir=/run/mounts/scsi/m[0-9]+/scratch/ext4-a/"));
  EXPECT_THAT(out, HasSubstr("hi\n"));
  for (const char* id : {"ext4-a", "ext4-b"}) {
    (void)ctr({"task", "kill", "-s", "SIGKILL", id});
    eventually([&] { return ctr({"task", "delete", id}).first == 0; });
    (void)ctr({"containers", "delete", id});
    if (std::string(id) == "ext4-a") {
      EXPECT_EQ(refs(entry), 1) << "b still holds it";
    }
  }
  EXPECT_TRUE(images().empty()) << "the last task took the image with it";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(store + "/scratch", ec)) {
    ADD_FAILURE() << "scratch disk " << e.path() << " outlived its task";
  }
  // Plan9, on request.
  std::tie(code, out) = ctr({"run", "--rm", "--runtime", kRuntime, "--annotation", "io.hcsshim-cpp.lcow.layers=plan9", kImage,
                             "p9", "sh", "-c", "grep ' / ' /proc/mounts"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("lowerdir=/run/mounts/plan9/"));
  EXPECT_TRUE(images().empty());
  std::tie(code, out) = ctr({"run", "--rm", "--runtime", kRuntime, "--annotation", "io.hcsshim-cpp.lcow.layers=floppy", kImage,
                             "bad", "true"});
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("io.hcsshim-cpp.lcow.layers"));
}

// CRI, nerdctl and docker name containers with 64 hex characters; the VM's
// vsock rendezvous must not grow with the id (sockaddr_un holds 107 bytes).
// runTool runs a host tool to completion; its exit code and stdout.
std::pair<int, std::string> runTool(runtime::Runtime& rt, std::vector<std::string> args,
                                    std::map<std::string, std::string> env = {}, std::string cwd = "") {
  return runtime::blockOn(rt.loop(), [](runtime::Runtime& rt, std::vector<std::string> args,
                                        std::map<std::string, std::string> env,
                                        std::string cwd) -> runtime::Task<std::pair<int, std::string>> {
    runtime::ProcessSpec spec{.path = args[0], .args = args, .cwd = cwd};
    if (!env.empty()) {
      std::map<std::string, std::string> all;
      for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        all[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
      }
      for (auto& [k, v] : env) all[k] = v;
      spec.env = all;
    }
    spec.stdoutMode = runtime::StdioMode::kPipe;
    spec.stderrMode = runtime::StdioMode::kNull;
    auto p = rt.processes().spawn(spec);
    if (!p.ok()) co_return std::pair<int, std::string>{-1, p.status().toString()};
    auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
    int code = (co_await (*p)->wait()).exitCode;
    co_return std::pair<int, std::string>{code, out.ok() ? *out : ""};
  }(rt, std::move(args), std::move(env), std::move(cwd)));
}

// containerd on Windows (its windows-lcow snapshotter) hands the shim one
// lcow-layer mount: the parents' layer.vhd files (ext4 + a fixed VHD footer,
// as its differ writes them) and the snapshot's sandbox.vhdx. The task runs
// on them: its shell comes from the layer, its write lands on the scratch.
// (The sandbox here is a raw ext4 disk: the sim guest loop-mounts it; a real
// sandbox.vhdx is a VHDX container only Hyper-V or QEMU's vhdx driver reads.)
TEST_F(ShimTest, AWindowsLcowSnapshotsLayerVhdsAndSandboxAreTheRootfs) {
  auto layer = functional::makeBusyboxLayer(*rt_, dir_);
  ASSERT_THAT(layer, IsOk());
  std::string parent = dir_ + "/snapshots/1", snap = dir_ + "/snapshots/2";
  fs::create_directories(parent);
  fs::create_directories(snap);
  std::string vhd = parent + "/layer.vhd";
  ASSERT_EQ(runTool(*rt_, {"/sbin/mkfs.ext4", "-q", "-F", "-d", *layer, vhd, "16M"}).first, 0) << "mkfs.ext4";
  {
    std::array<uint8_t, 16> id{1, 2, 3};
    std::ofstream(vhd, std::ios::app | std::ios::binary) << ext4::vhdFooter(fs::file_size(vhd), id);
  }
  std::string scratch = snap + "/sandbox.vhdx";
  ASSERT_EQ(runTool(*rt_, {"/sbin/mkfs.ext4", "-q", "-F", scratch, "16M"}).first, 0);
  std::string bundle = dir_ + "/bundle-lcow";
  fs::create_directories(bundle + "/rootfs");
  auto spec = functional::runcSpec(*rt_, dir_, "rootfs", {"sh", "-c", "echo from-the-lcow-layers > /proof"});
  ASSERT_THAT(spec, IsOk());
  std::ofstream(bundle + "/config.json") << spec->dump();
  std::map<std::string, std::string> env = {{"HCS_FAKE_ADDRESS", hcs_->address()},
                                            {"HCS_FAKE_VSOCK_ROOT", vsockRoot_},
                                            {"HCSSHIM_LAYER_STORE", dir_ + "/layers"},
                                            {"TTRPC_ADDRESS", ctd_->ttrpcAddress()}};
  std::string shim = functional::HcsFakeDaemon::runfile("src/shim/cmd/containerd-shim-runhcs-v1");
  std::vector<std::string> flags = {shim, "-namespace", "lcow", "-address", ctd_->grpcAddress(), "-publish-binary",
                                    "/usr/bin/containerd", "-id", "lcow"};
  auto start = flags;
  start.push_back("start");
  auto [code, address] = runTool(*rt_, start, env, bundle);
  ASSERT_EQ(code, 0) << address;
  auto client = runtime::blockOn(rt_->loop(), ttrpc::Client::connect(*rt_, address));
  ASSERT_THAT(client, IsOk()) << address;
  auto call = [&](const char* method, const auto& req) {
    return runtime::blockOn(rt_->loop(), (*client)->call("containerd.task.v2.Task", method, req.SerializeAsString()));
  };
  containerd::task::v2::CreateTaskRequest create;
  create.set_id("lcow");
  create.set_bundle(bundle);
  auto* m = create.add_rootfs();
  m->set_type("lcow-layer");
  m->set_source(snap);
  m->add_options("rw");
  m->add_options("parentLayerPaths=" + Json::array({parent}).dump());
  ASSERT_THAT(call("Create", create), IsOk());
  EXPECT_EQ(systemCount(*rt_, hcs_->address()), 1u);
  containerd::task::v2::StartRequest startReq;
  startReq.set_id("lcow");
  ASSERT_THAT(call("Start", startReq), IsOk());
  containerd::task::v2::WaitRequest wait;
  wait.set_id("lcow");
  auto waited = call("Wait", wait);
  ASSERT_THAT(waited, IsOk());
  containerd::task::v2::WaitResponse wr;
  ASSERT_TRUE(wr.ParseFromString(*waited));
  EXPECT_EQ(wr.exit_status(), 0u) << "the layer's sh ran and wrote to the scratch";
  containerd::task::v2::DeleteRequest del;
  del.set_id("lcow");
  ASSERT_THAT(call("Delete", del), IsOk());
  containerd::task::v2::ShutdownRequest down;
  down.set_id("lcow");
  (void)call("Shutdown", down);
  (*client)->close();
  EXPECT_TRUE(eventually([&] { return systemCount(*rt_, hcs_->address()) == 0; })) << "the VM went with the task";
  auto [cat, proof] = runTool(*rt_, {"/sbin/debugfs", "-R", "cat /scratch/lcow/upper/proof", scratch});
  EXPECT_EQ(proof, "from-the-lcow-layers\n") << "the write is on sandbox.vhdx (debugfs exit " << cat << ")";
  std::ifstream in(vhd, std::ios::binary);
  in.seekg(-512, std::ios::end);
  std::string cookie(8, '\0');
  in.read(cookie.data(), 8);
  EXPECT_EQ(cookie, "conectix") << "the layer keeps its footer";
}

TEST_F(ShimTest, SixtyFourCharacterIds) {
  std::string id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  ASSERT_EQ(id.size(), 64u);
  auto [code, out] = ctr({"run", "--runtime", kRuntime, "--rm", kImage, id, "echo", "hi"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "hi\n");
}

// stdout and stderr to a file:// log URI (appended).
TEST_F(ShimTest, LogUris) {
  std::string log = dir_ + "/task.log";
  auto [code, out] = ctr({"run", "--rm", "--runtime", kRuntime, "--log-uri", "file://" + log, kImage, "logged", "sh",
                          "-c", "echo to-stdout; echo to-stderr >&2"});
  EXPECT_EQ(code, 0) << out;
  std::string content = runtime::readFile(std::string(log)).value_or("");
  EXPECT_THAT(content, HasSubstr("to-stdout\n"));
  EXPECT_THAT(content, HasSubstr("to-stderr\n"));
}

// A binary:// logging driver (containerd's protocol): the logger gets its
// query as arguments, CONTAINER_ID/CONTAINER_NAMESPACE, stdout on fd 3 and
// stderr on fd 4, and signals readiness by closing fd 5.
TEST_F(ShimTest, BinaryLogUri) {
  std::string logger = dir_ + "/logger.sh", out = dir_ + "/blog";
  {
    std::ofstream script(logger);
    script << "#!/bin/sh\n"
              "echo \"$* $CONTAINER_ID $CONTAINER_NAMESPACE\" > \"$2.args\"\n"
              "exec 5>&-\n"  // ready (before the readers, which would inherit it)
              "cat <&3 > \"$2.out\" &\n"
              "cat <&4 > \"$2.err\" &\n"
              "wait\n"
              "touch \"$2.done\"\n";
  }
  ASSERT_EQ(::chmod(logger.c_str(), 0755), 0);
  auto [code, text] = ctr({"run", "--rm", "--runtime", kRuntime, "--log-uri",
                           "binary://" + logger + "?file=" + out + "&verbose", kImage, "blogged", "sh", "-c",
                           "echo to-stdout; echo to-stderr >&2"});
  EXPECT_EQ(code, 0) << text;
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  // The logger exits once both streams are closed (the process ended).
  eventually([&] { return fs::exists(out + ".done"); });
  EXPECT_TRUE(fs::exists(out + ".done")) << "the logger did not see EOF on fd 3 and 4";
  EXPECT_EQ(slurp(out + ".args"), "file " + out + " verbose blogged default\n");
  EXPECT_EQ(slurp(out + ".out"), "to-stdout\n");
  EXPECT_EQ(slurp(out + ".err"), "to-stderr\n");
  // A logger that is not there: the task is refused up front with the path.
  std::tie(code, text) = ctr({"run", "--rm", "--runtime", kRuntime, "--log-uri", "binary://" + dir_ + "/no-such-logger",
                              kImage, "blogged2", "true"});
  EXPECT_NE(code, 0);
  EXPECT_THAT(text, HasSubstr("no-such-logger"));
  ctr({"containers", "delete", "blogged2"});
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
  std::tie(code, out) = ctr({"task", "metrics", "svc"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("memory.usage_in_bytes +[1-9][0-9]*")) << out;
  EXPECT_THAT(out, ::testing::ContainsRegex("pids.current +[1-9]")) << out;
  // ctr 1.6 has no `task update`: call Update on the shim as containerd would.
  std::string shimAddress = runtime::readFile(std::string(ctd_->dir() + "/state/io.containerd.runtime.v2.task/default/svc/address")).value_or("");
  auto client = runtime::blockOn(rt_->loop(), ttrpc::Client::connect(*rt_, shimAddress));
  ASSERT_THAT(client, IsOk()) << shimAddress;
  containerd::task::v2::UpdateTaskRequest update;
  update.set_id("svc");
  update.mutable_resources()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources");
  update.mutable_resources()->set_value(R"({"memory":{"limit":67108864}})");
  auto updated = runtime::blockOn(rt_->loop(), (*client)->call("containerd.task.v2.Task", "Update",
                                                               update.SerializeAsString()));
  EXPECT_THAT(updated, IsOk());
  update.mutable_resources()->set_type_url("something/Else");
  auto refused = runtime::blockOn(rt_->loop(), (*client)->call("containerd.task.v2.Task", "Update",
                                                               update.SerializeAsString()));
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  (*client)->close();
  std::tie(code, out) = ctr({"task", "metrics", "svc"});
  EXPECT_THAT(out, ::testing::ContainsRegex("memory.limit_in_bytes +67108864")) << out;
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

TEST_F(ShimTest, MalformedOptionsAreInvalidArgumentAndLeakNothing) {
  auto [code, out] = ctr({"run", "--rm", "--runtime", kRuntime, "--annotation",
                          "io.microsoft.virtualmachine.computetopology.memory.sizeinmb=lots", kImage, "bad", "true"});
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("is not a number")) << out;
  EXPECT_EQ(systemCount(*rt_, hcs_->address()), 0u) << "no utility VM was left behind";
  (void)ctr({"containers", "delete", "bad"});
}

// A task whose spec names an HCN namespace (windows.network.networkNamespace,
// as containerd's CRI sets it for a pod): the shim plugs the namespace's
// endpoints into the task's utility VM and the container runs in that
// namespace - `ip addr` inside shows the endpoint's address and MAC.
TEST_F(ShimTest, TaskInAnHcnNamespaceGetsItsEndpoints) {
  auto hnsApi = runtime::blockOn(rt_->loop(), platforms::DaemonHns::connect(*rt_, hcs_->address()));
  ASSERT_THAT(hnsApi, IsOk());
  hns::HcnClient hcn(**hnsApi);
  auto run = [&](auto task) { return runtime::blockOn(rt_->loop(), std::move(task)); };
  auto net = run(hcn.createNetwork(hns::natNetwork("shim-net", "198.51.100.0/24", "198.51.100.1")));  // TEST-NET-2
  ASSERT_THAT(net, IsOk());
  auto ep = run(hcn.createEndpoint(*net->id, {}));
  ASSERT_THAT(ep, IsOk());
  schema::HostComputeNamespace nsDoc;
  nsDoc.type = "Guest";
  auto ns = run(hcn.createNamespace(nsDoc));
  ASSERT_THAT(ns, IsOk());
  ASSERT_THAT(run(hcn.attachEndpoint(*ns->id, *ep->id)), IsOk());
  // ctr --config: the whole spec, its root a busybox directory.
  auto root = functional::makeBusyboxLayer(*rt_, dir_ + "/netroot");
  ASSERT_THAT(root, IsOk());
  auto spec = functional::runcSpec(*rt_, dir_, *root, {"ip", "addr", "show", "eth0"});
  ASSERT_THAT(spec, IsOk());
  (*spec)["windows"]["network"]["networkNamespace"] = *ns->id;
  std::string specPath = dir_ + "/netspec.json";
  std::ofstream(specPath) << spec->dump();
  auto [code, out] = ctr({"run", "--rm", "--runtime", kRuntime, "--config", specPath, "netted"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("inet " + *ep->ipConfigurations[0].ipAddress + "/24"));
  // A namespace that does not exist: refused, no VM left.
  (*spec)["windows"]["network"]["networkNamespace"] = "0badc0de-0000-4000-8000-00000000beef";
  std::ofstream(specPath, std::ios::trunc) << spec->dump();
  std::tie(code, out) = ctr({"run", "--rm", "--runtime", kRuntime, "--config", specPath, "unnetted"});
  EXPECT_NE(code, 0);
  EXPECT_THAT(out, HasSubstr("0badc0de-0000-4000-8000-00000000beef"));
  EXPECT_EQ(systemCount(*rt_, hcs_->address()), 0u) << "no utility VM was left behind";
  (void)ctr({"containers", "delete", "unnetted"});
}

// kill -9 of the shim while its task runs: containerd runs `shim delete`,
// which takes the task's utility VM down; nothing is left.
TEST_F(ShimTest, KilledShimIsCleanedUpByDelete) {
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, kImage, "doomed", "sleep", "1000"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(systemCount(*rt_, hcs_->address()), 1u);
  int shim = pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", "doomed", "serve"});
  ASSERT_GT(shim, 0);
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  std::string hcsDir = fs::path(hcs_->address().substr(7)).parent_path().string() + "/";
  eventually([&] { return systemCount(*rt_, hcs_->address()) == 0 && pidOf({hcsDir, "--sim-vm"}) == 0; });
  EXPECT_EQ(systemCount(*rt_, hcs_->address()), 0u) << "containerd's delete path terminated the VM";
  EXPECT_EQ(pidOf({hcsDir, "--sim-vm"}), 0) << "no guest left";
  // Its layer images' references went with it (the store holds no image).
  eventually([&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/layers", ec)) {
      if (fs::exists(e.path() / "layer.vhd")) return false;
    }
    return true;
  });
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/layers", ec)) {
    EXPECT_FALSE(fs::exists(e.path() / "layer.vhd")) << e.path() << " outlived the killed shim's cleanup";
  }
  std::tie(code, out) = ctr({"task", "ls"});
  EXPECT_THAT(out, ::testing::Not(HasSubstr("RUNNING"))) << out;
  (void)ctr({"task", "delete", "doomed"});
  std::tie(code, out) = ctr({"containers", "delete", "doomed"});
  EXPECT_EQ(code, 0) << out;
}

// Pause freezes the task (its utility VM); resume lets it go on.
// Pause freezes the task (its whole utility VM): a counter its process
// keeps in its rootfs does not advance while paused, and does after resume.
TEST_F(ShimTest, PauseAndResume) {
  // Plan9 layers: the writable layer is containerd's snapshot directory on
  // this host, where the test watches the counter.
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, "--annotation", "io.hcsshim-cpp.lcow.layers=plan9", kImage,
                          "frozen", "sh", "-c",
                          "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo $i > /c.tmp; mv /c.tmp /pause-counter; done"});
  ASSERT_EQ(code, 0) << out;
  // The rootfs's writable layer is containerd's snapshot on this host: find the counter there.
  std::string counter;
  auto found = [&] {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(ctd_->dir(), ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->path().filename() == "pause-counter") counter = it->path().string();
    }
    return !counter.empty();
  };
  ASSERT_TRUE(runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), found, std::chrono::seconds(20))));
  auto value = [&] { return std::atol(runtime::readFile(counter, 64).value_or("0").c_str()); };
  auto advances = [&](runtime::Duration within) {
    long from = value();
    return runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] { return value() > from + 10; }, within));
  };
  ASSERT_TRUE(advances(std::chrono::seconds(10))) << "the counter runs before the pause";
  std::tie(code, out) = ctr({"task", "pause", "frozen"});
  EXPECT_EQ(code, 0) << out;
  std::tie(code, out) = ctr({"task", "ls"});
  EXPECT_THAT(out, ::testing::ContainsRegex("frozen +[0-9]+ +PAUSED")) << out;
  long frozenAt = value();
  EXPECT_FALSE(advances(std::chrono::milliseconds(500))) << "the task kept counting while paused";
  EXPECT_EQ(value(), frozenAt);
  std::tie(code, out) = ctr({"task", "pause", "frozen"});
  EXPECT_NE(code, 0) << "already paused";
  std::tie(code, out) = ctr({"task", "resume", "frozen"});
  EXPECT_EQ(code, 0) << out;
  std::tie(code, out) = ctr({"task", "ls"});
  EXPECT_THAT(out, ::testing::ContainsRegex("frozen +[0-9]+ +RUNNING")) << out;
  EXPECT_TRUE(advances(std::chrono::seconds(10))) << "the counter goes on after resume";
  // kill --all reaches the exec'd processes too.
  // The exec marks its start in the rootfs (the task's own loop forks
  // constantly, so a process count says nothing about the exec).
  auto execd = ctd_->ctr({"task", "exec", "--exec-id", "long", "frozen", "sh", "-c", "touch /exec-started; exec sleep 1000"},
                         /*pipeStdout=*/true);
  ASSERT_THAT(execd, IsOk());
  std::string started = fs::path(counter).parent_path().string() + "/exec-started";
  ASSERT_TRUE(eventually([&] { return fs::exists(started); }, std::chrono::seconds(30))) << "the exec never ran";
  std::tie(code, out) = ctr({"task", "kill", "-a", "-s", "SIGKILL", "frozen"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(runtime::blockOn(rt_->loop(), (*execd)->wait()).exitCode, 137) << "the exec died with the task";
  eventually([&] {
    std::tie(code, out) = ctr({"task", "delete", "frozen"});
    return code == 0;
  });
  EXPECT_EQ(code, 0) << out;
  (void)ctr({"containers", "delete", "frozen"});
}

// containerd restarts while a task runs: it reconnects to the shim through
// the bundle's address file; the task can still be killed, waited and deleted.
TEST_F(ShimTest, ContainerdRestartReconnectsToTheShim) {
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, kImage, "persist", "sleep", "1000"});
  ASSERT_EQ(code, 0) << out;
  int shim = pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", "persist", "serve"});
  ASSERT_GT(shim, 0);
  ASSERT_THAT(runtime::blockOn(rt_->loop(), ctd_->restart()), IsOk());
  EXPECT_EQ(pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", "persist", "serve"}), shim) << "the same shim survived";
  std::tie(code, out) = ctr({"task", "ls"});
  EXPECT_THAT(out, ::testing::ContainsRegex("persist +[0-9]+ +RUNNING")) << out;
  std::tie(code, out) = ctr({"task", "kill", "-s", "SIGKILL", "persist"});
  EXPECT_EQ(code, 0) << out;
  eventually([&] {
    std::tie(code, out) = ctr({"task", "delete", "persist"});
    return code == 0;
  });
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("137"));
  std::tie(code, out) = ctr({"containers", "delete", "persist"});
  EXPECT_EQ(code, 0) << out;
  eventually([&] { return pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", "persist", "serve"}) == 0; });
  EXPECT_EQ(pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", "persist", "serve"}), 0) << "the shim exits with its last task";
}

// `ctr task exec -t` from a real terminal: the process gets a pty that
// follows the caller's size (ctr resizes it once it runs); and stdin reaches
// a process through its FIFO.
TEST_F(ShimTest, ExecWithTtyAndStdin) {
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, kImage, "term", "sleep", "1000"});
  ASSERT_EQ(code, 0) << out;
  runtime::ProcessSpec spec{.path = "/usr/bin/ctr",
                            .args = {"ctr", "--address", ctd_->grpcAddress(), "task", "exec", "-t", "--exec-id", "t1",
                                     "term", "sh", "-c",
                                     "tty >/dev/null && echo on-a-tty; "
                                     "while [ \"$(stty size)\" = '24 80' ]; do sleep 0.05; done; stty size"}};
  spec.terminal = true;
  spec.terminalRows = 33;
  spec.terminalColumns = 111;
  auto p = rt_->processes().spawn(spec);
  ASSERT_THAT(p, IsOk());
  std::string seen;
  runtime::blockOn(rt_->loop(), [](runtime::Stream& s, std::string& seen) -> runtime::Task<void> {
    char buf[256];
    for (;;) {
      auto n = co_await s.read(buf);
      if (!n.ok() || *n == 0) break;
      seen.append(buf, *n);
    }
  }(*(*p)->terminalStream(), seen));
  EXPECT_EQ(runtime::blockOn(rt_->loop(), (*p)->wait()).exitCode, 0) << seen;
  EXPECT_THAT(seen, HasSubstr("on-a-tty")) << seen;
  EXPECT_THAT(seen, HasSubstr("33 111")) << seen;

  // stdin: ctr forwards its stdin; keep it open until the exec runs.
  runtime::ProcessSpec catSpec{.path = "/usr/bin/ctr",
                               .args = {"ctr", "--address", ctd_->grpcAddress(), "task", "exec", "--exec-id", "c1",
                                        "term", "tr", "a-z", "A-Z"}};
  catSpec.stdinMode = runtime::StdioMode::kPipe;
  catSpec.stdoutMode = runtime::StdioMode::kPipe;
  auto cat = rt_->processes().spawn(catSpec);
  ASSERT_THAT(cat, IsOk());
  eventually([&] { // header, sleep, tr
    std::tie(code, out) = ctr({"task", "ps", "term"});
    return std::count(out.begin(), out.end(), '\n') >= 3;
  });
  ASSERT_THAT(runtime::blockOn(rt_->loop(), (*cat)->stdinStream()->write("shout\n")), IsOk());
  (*cat)->stdinStream()->close();
  auto upper = runtime::blockOn(rt_->loop(), runtime::readToEnd(*(*cat)->stdoutStream()));
  EXPECT_EQ(runtime::blockOn(rt_->loop(), (*cat)->wait()).exitCode, 0);
  ASSERT_THAT(upper, IsOk());
  EXPECT_EQ(*upper, "SHOUT\n");

  (void)ctr({"task", "kill", "-s", "SIGKILL", "term"});
  eventually([&] {
    std::tie(code, out) = ctr({"task", "delete", "term"});
    return code == 0;
  });
  (void)ctr({"containers", "delete", "term"});
}

// A pod (CRI annotations): the sandbox gets the utility VM and the shim;
// its containers join both; the VM goes with the last of them.
TEST_F(ShimTest, PodContainersShareTheSandboxVmAndShim) {
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, "--annotation", "io.kubernetes.cri.container-type=sandbox",
                          "--annotation", "io.kubernetes.cri.sandbox-id=pod1", kImage, "pod1", "sleep", "1000"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = ctr({"run", "-d", "--runtime", kRuntime, "--annotation",
                             "io.kubernetes.cri.container-type=container", "--annotation",
                             "io.kubernetes.cri.sandbox-id=pod1", kImage, "app1", "sh", "-c",
                             "echo from-app1 > /x; sleep 1000"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(systemCount(*rt_, hcs_->address()), 1u) << "one utility VM for the pod";
  EXPECT_EQ(pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", "app1", "serve"}), 0) << "no shim of its own";
  EXPECT_GT(pidOf({ctd_->grpcAddress(), "containerd-shim-runhcs-v1", "pod1", "serve"}), 0);
  int attempt = 0;  // the init writes it just after it starts
  eventually([&] {
    std::tie(code, out) = ctr({"task", "exec", "--exec-id", "x" + std::to_string(attempt++), "app1", "cat", "/x"});
    return code == 0;
  });
  EXPECT_EQ(out, "from-app1\n") << "the container's writes land in its own root";
  std::tie(code, out) = ctr({"task", "exec", "--exec-id", "y", "pod1", "cat", "/x"});
  EXPECT_NE(code, 0) << "and not in the sandbox's: " << out;
  for (const char* id : {"app1", "pod1"}) {
    (void)ctr({"task", "kill", "-s", "SIGKILL", id});
    eventually([&] {
      std::tie(code, out) = ctr({"task", "delete", id});
      return code == 0;
    });
    EXPECT_EQ(code, 0) << id << ": " << out;
    if (std::string(id) == "app1") {
      EXPECT_EQ(systemCount(*rt_, hcs_->address()), 1u) << "the sandbox still runs in it";
    }
    (void)ctr({"containers", "delete", id});
  }
  eventually([&] { return systemCount(*rt_, hcs_->address()) == 0; });
  EXPECT_EQ(systemCount(*rt_, hcs_->address()), 0u);
}

// tools/shimdiag against a running shim: list, tasks, exec in the UVM, stacks.
TEST_F(ShimTest, ShimdiagListsTasksExecsAndDumpsStacks) {
  auto [code, out] = ctr({"run", "-d", "--runtime", kRuntime, kImage, "diag", "sleep", "1000"});
  ASSERT_EQ(code, 0) << out;
  std::string bin = functional::HcsFakeDaemon::runfile("tools/shimdiag/shimdiag");
  auto shimdiag = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {bin, "--state", ctd_->dir() + "/state"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runtime::blockOn(rt_->loop(), [](runtime::Runtime& rt, std::vector<std::string> argv)
                                             -> runtime::Task<std::pair<int, std::string>> {
      runtime::ProcessSpec spec{.path = argv[0], .args = argv};
      spec.stdoutMode = runtime::StdioMode::kPipe;
      auto p = rt.processes().spawn(spec);
      if (!p.ok()) co_return std::make_pair(-1, p.status().toString());
      auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
      int code = (co_await (*p)->wait()).exitCode;
      co_return std::make_pair(code, out.ok() ? *out : "");
    }(*rt_, argv));
  };
  std::tie(code, out) = shimdiag({"list"});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, ::testing::ContainsRegex("default/diag +unix://[^ ]+ +diag")) << out;
  std::tie(code, out) = shimdiag({"tasks", "default/diag"});
  EXPECT_THAT(out, ::testing::ContainsRegex("diag +runhcs-diag +[0-9]+ +running")) << out;
  std::tie(code, out) = shimdiag({"exec", "default/diag", "--", "sh", "-c", "echo in-the-uvm; exit 4"});
  EXPECT_EQ(code, 4);
  EXPECT_EQ(out, "in-the-uvm\n");
  std::tie(code, out) = shimdiag({"stacks", "default/diag"});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("task diag vm runhcs-diag")) << out;
  EXPECT_THAT(out, HasSubstr("container diag")) << "the guest agent's dump: " << out;
  (void)ctr({"task", "kill", "-s", "SIGKILL", "diag"});
  eventually([&] {
    std::tie(code, out) = ctr({"task", "delete", "diag"});
    return code == 0;
  });
  (void)ctr({"containers", "delete", "diag"});
}

}  // namespace
}  // namespace hcsshim
