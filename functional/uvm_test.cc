// Utility VMs end to end through src/uvm: the hcs_fake daemon with its `sim`
// VM backend runs the real gcs as each VM's guest; the host side listens on
// the VM's hybrid vsock ports, boots it, and drives it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <functional>
#include <fstream>

#include "functional/harness/gcs_guest.h"
#include "functional/harness/hcs_fake_daemon.h"
#include "hcs_fake/owner.h"
#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/daemon_hns.h"
#include "platforms/linux/hybrid_vsock.h"
#include "src/runtime/read_file.h"
#include "src/common/status_matchers.h"
#include "src/hns/hcn.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/wait_for.h"
#include "src/uvm/uvm.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using ::testing::HasSubstr;
using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

// runTool runs a host tool to completion; its exit code.
int runTool(runtime::Runtime& rt, std::vector<std::string> args) {
  return runtime::blockOn(rt.loop(), [](runtime::Runtime& rt, std::vector<std::string> args) -> Task<int> {
    runtime::ProcessSpec spec{.path = args[0], .args = args};
    auto p = rt.processes().spawn(spec);
    if (!p.ok()) co_return -1;
    co_return (co_await (*p)->wait()).exitCode;
  }(rt, args));
}

class UvmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the sim VM backend needs root (namespaces, cgroups, mounts)";
    rt_ = std::move(*runtime::RealRuntime::create("uvm-test"));
    char tmpl[] = "/tmp/uvm-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto d = functional::HcsFakeDaemon::start(*rt_, dir_, daemonArgs());
    ASSERT_THAT(d, IsOk());
    daemon_ = std::move(*d);
    auto api = run(platforms::DaemonHcs::connect(*rt_, daemon_->address()));
    ASSERT_THAT(api, IsOk());
    hcs_ = std::move(*api);
    vsockRoot_ = platforms::vsockRootFor(daemon_->address());
    boot_ = functional::HcsFakeDaemon::bootFiles(dir_);
  }

  bool qemu() const { return functional::HcsFakeDaemon::backend() == "qemu"; }
  // gcsArgs: extra flags for every guest agent of this fixture (sim: the
  // daemon's --gcs-arg; qemu: appended to init's arguments on the kernel
  // command line).
  virtual std::vector<std::string> gcsArgs() const { return {}; }
  std::vector<std::string> daemonArgs() const {
    std::vector<std::string> out;
    if (!qemu()) {
      for (const auto& a : gcsArgs()) out.push_back("--gcs-arg=" + a);
    }
    return out;
  }

  void TearDown() override {
    for (auto& vm : vms_) (void)run(vm->close());
    vms_.clear();
    hcs_.reset();
    if (daemon_) {
      daemonPid_ = daemon_->pid();
      EXPECT_EQ(daemon_->stop(), 0);
      daemon_.reset();
    }
    if (!dir_.empty()) {
      EXPECT_THAT(leftovers(), ::testing::IsEmpty());
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }

  uvm::UtilityVM& boot(const std::string& id, uint64_t memoryMB = 512,
                       const std::function<void(uvm::LcowOptions&)>& tweak = nullptr) {
    uvm::LcowOptions o{.id = id, .bootFilesPath = boot_, .memoryMB = memoryMB, .processors = 1};
    if (tweak) tweak(o);
    o.bootTimeout = std::chrono::seconds(qemu() ? 90 : 20);  // TCG boots take seconds
    if (qemu()) {
      o.initArgs = uvm::kDefaultInitArgs;
      for (const auto& a : gcsArgs()) o.initArgs += " " + a;
    }
    auto vsock = std::make_unique<platforms::HybridVsockHost>(rt_->transport(), platforms::hybridVsockPath(vsockRoot_, id));
    auto vm = run(uvm::UtilityVM::create(*rt_, *hcs_, std::move(vsock), o));
    EXPECT_THAT(vm, IsOk());
    if (!vm.ok()) return *static_cast<uvm::UtilityVM*>(nullptr);
    EXPECT_THAT(run((*vm)->start()), IsOk());
    vms_.push_back(std::move(*vm));
    return *vms_.back();
  }

  // uvmRun: a shell command as a process of the UVM; (exit code, output).
  std::pair<int, std::string> uvmRun(uvm::UtilityVM& vm, const std::string& script) {
    bridge::ProcessParameters pp;
    pp.commandArgs = {"/bin/sh", "-c", script};
    auto p = run(vm.exec(pp, {.out = true, .err = true}));
    if (!p.ok()) return {-1, p.status().toString()};
    std::string out = *run(runtime::readToEnd(*(*p)->stdoutStream()));
    out += *run(runtime::readToEnd(*(*p)->stderrStream()));
    auto code = run((*p)->wait());
    return {code.ok() ? static_cast<int>(*code) : -1, out};
  }

  // trapped: whether container id's init wrote /trapped (after setting its
  // TERM trap: a container's init is PID 1 of its namespace, so a SIGTERM
  // that comes before the trap is ignored and a graceful shutdown never ends).
  bool trapped(uvm::UtilityVM& vm, const std::string& id) {
    return runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] {
      return uvmRun(vm, "test -e /run/gcs/c/" + id + "/rootfs/trapped").first == 0;
    }, std::chrono::seconds(20)));
  }

  // guestPid: the host pid of what VM id's guest runs in: its guest agent
  // (sim) or its QEMU (qemu).
  int guestPid(const std::string& id) {
    std::string needle = platforms::hybridVsockPath(vsockRoot_, id);
    std::string qemuName = std::string("\0-name\0", 7) + id + '\0';
    std::error_code ec;
    for (const auto& p : fs::directory_iterator("/proc", ec)) {
      std::string line = runtime::readFile(std::string(p.path() / "cmdline")).value_or("");
      bool sim = line.find(needle) != std::string::npos && line.find("--sim-vm") != std::string::npos;
      bool vmm = line.rfind("qemu-system", 0) == 0 && line.find(qemuName) != std::string::npos;
      if (sim || vmm) return std::atoi(p.path().filename().c_str());
    }
    return 0;
  }

  // leftovers: guest processes, VM directories and sockets, cgroups.
  std::vector<std::string> leftovers() {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& p : fs::directory_iterator("/proc", ec)) {
      std::string line = runtime::readFile(std::string(p.path() / "cmdline")).value_or("");
      if (line.find(vsockRoot_) != std::string::npos || line.find(qemuRoot()) != std::string::npos) {
        found.push_back("process " + p.path().filename().string());
      }
    }
    if (fs::exists(qemuRoot(), ec)) found.push_back("qemu dir " + qemuRoot());
    for (const auto& e : fs::directory_iterator(vsockRoot_, ec)) found.push_back("socket " + e.path().string());
    for (const auto& e : fs::directory_iterator(dir_ + "/vm", ec)) found.push_back("vm dir " + e.path().string());
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      for (const auto& c : fs::directory_iterator(h.path(), ec)) {
        // Only this test's daemon's (tests may run side by side).
        if (c.path().filename().string() == "hcs-fake-" + hcs_fake::ownerNameOf(daemonPid_)) {
          found.push_back("cgroup " + c.path().string());
        }
      }
    }
    return found;
  }

  // qemuRoot: the qemu backend's per-daemon directory (QMP, vhost-user).
  std::string qemuRoot() const { return "/tmp/hcs-fake-qemu-" + hcs_fake::ownerNameOf(daemon_ ? daemon_->pid() : daemonPid_); }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_, vsockRoot_, boot_;
  int daemonPid_ = 0;
  std::unique_ptr<functional::HcsFakeDaemon> daemon_;
  std::unique_ptr<platforms::DaemonHcs> hcs_;
  std::vector<std::unique_ptr<uvm::UtilityVM>> vms_;
};

TEST_F(UvmTest, BootsAndRunsACommandInTheUvm) {
  auto& vm = boot("vm-echo");
  EXPECT_GT(vm.bootTime().count(), 0);
  EXPECT_EQ(vm.guest().negotiated().version, 4u);
  auto [code, out] = uvmRun(vm, "echo hi from $(hostname); exit 7");
  EXPECT_EQ(code, 7);
  EXPECT_THAT(out, HasSubstr("hi from"));
  // Its own namespaces (sim) or kernel (qemu): the agent is PID 1 of the VM.
  std::tie(code, out) = uvmRun(vm, "cat /proc/1/cmdline | tr '\\0' ' '");
  EXPECT_THAT(out, HasSubstr(qemu() ? "/bin/gcs --init" : "--sim-vm"));
  if (qemu()) {
    // Its memory is the document's: the guest kernel sees most of 512 MiB.
    std::tie(code, out) = uvmRun(vm, "awk '/MemTotal/ {print $2}' /proc/meminfo");
    uint64_t kb = std::strtoull(out.c_str(), nullptr, 10);
    EXPECT_GT(kb, 350u * 1024) << out;  // less what the kernel keeps for itself
    EXPECT_LE(kb, 512u * 1024) << out;
    ASSERT_THAT(run(vm.close()), IsOk());
    return;
  }
  // Its memory is the document's, as a cgroup limit.
  int pid = guestPid("vm-echo");
  ASSERT_GT(pid, 0);
  std::ifstream cg("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, memoryCg;
  while (std::getline(cg, line)) {
    if (line.find(":memory:") != std::string::npos) memoryCg = line.substr(line.find(":memory:") + 8);
  }
  if (!memoryCg.empty()) {
    std::ifstream limit("/sys/fs/cgroup/memory" + memoryCg + "/memory.limit_in_bytes");
    uint64_t bytes = 0;
    limit >> bytes;
    EXPECT_EQ(bytes, 512ull << 20) << memoryCg;
  }
  ASSERT_THAT(run(vm.close()), IsOk());
  auto exit = run(vm.waitExit());
  EXPECT_EQ(exit.exitType, "GracefulExit");
}

TEST_F(UvmTest, ContainerFromBusyboxLayers) {
  auto& vm = boot("vm-ctr");
  auto layer = functional::makeBusyboxLayer(*rt_, dir_);
  ASSERT_THAT(layer, IsOk());
  auto spec = functional::runcSpec(*rt_, dir_, "/", {"sh", "-c", "echo hello from $(hostname); exit 3"});
  ASSERT_THAT(spec, IsOk());
  auto c = run(vm.createContainer("c1", {*layer}, *spec));
  ASSERT_THAT(c, IsOk());
  auto p = run((*c)->start({}, {.out = true}));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(*run(runtime::readToEnd(*(*p)->stdoutStream())), "hello from runc\n");
  EXPECT_EQ(*run((*p)->wait()), 3u);
  auto exit = run((*c)->waitExit());
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->result, 3);
  EXPECT_THAT(run((*c)->remove()), IsOk());
  auto [code, out] = uvmRun(vm, "grep -c /run/mounts/plan9 /proc/mounts; ls /run/gcs/c | wc -l");
  EXPECT_EQ(out, "0\n0\n") << "the layer share and the container's state are gone";
}

// HNS endpoints reach the guest: each VM gets its endpoint's NIC, the guest
// moves it into the HCN namespace's network namespace with the endpoint's
// address, route and DNS; a container in that namespace sees them (`ip addr`
// from inside) and reaches a peer endpoint's container on the same network.
TEST_F(UvmTest, EndpointsReachTheGuestAndEachOther) {
  auto hnsApi = run(platforms::DaemonHns::connect(*rt_, daemon_->address()));
  ASSERT_THAT(hnsApi, IsOk());
  hns::HcnClient hcn(**hnsApi);
  schema::HostComputeNetwork n;
  n.name = "uvm-net";
  n.type = "L2Bridge";
  schema::HcnSubnet sub;
  sub.ipAddressPrefix = "192.0.2.0/24";  // TEST-NET-1: nothing on the host uses it
  sub.routes.push_back({"192.0.2.1", "0.0.0.0/0", {}, {}});
  n.ipams.push_back({"Static", {sub}, {}});
  n.dns = schema::HcnDns{};
  n.dns->suffix = "sim.test";
  n.dns->serverList = {"192.0.2.53"};
  auto net = run(hcn.createNetwork(n));
  ASSERT_THAT(net, IsOk());
  auto epA = run(hcn.createEndpoint(*net->id, {}));
  auto epB = run(hcn.createEndpoint(*net->id, {}));
  ASSERT_THAT(epA, IsOk());
  ASSERT_THAT(epB, IsOk());
  schema::HostComputeNamespace nsDoc;
  nsDoc.type = "Guest";
  auto nsA = run(hcn.createNamespace(nsDoc));
  auto nsB = run(hcn.createNamespace(nsDoc));
  ASSERT_THAT(nsA, IsOk());
  ASSERT_THAT(nsB, IsOk());
  ASSERT_THAT(run(hcn.attachEndpoint(*nsA->id, *epA->id)), IsOk());
  ASSERT_THAT(run(hcn.attachEndpoint(*nsB->id, *epB->id)), IsOk());
  std::string ipA = *epA->ipConfigurations[0].ipAddress, ipB = *epB->ipConfigurations[0].ipAddress;

  auto& vmA = boot("vm-net-a");
  auto& vmB = boot("vm-net-b");
  ASSERT_THAT(run(vmA.addNetworkEndpoint(*epA, *nsA->id)), IsOk());
  ASSERT_THAT(run(vmB.addNetworkEndpoint(*epB, *nsB->id)), IsOk());
  EXPECT_THAT(run(vmB.addNetworkEndpoint(*epB, *nsB->id)), StatusIs(Code::kAlreadyExists));
  auto layer = functional::makeBusyboxLayer(*rt_, dir_);
  ASSERT_THAT(layer, IsOk());
  auto container = [&](uvm::UtilityVM& vm, const std::string& id, const std::string& ns, const std::string& script) {
    auto spec = functional::runcSpec(*rt_, dir_, "/", {"sh", "-c", script});
    EXPECT_THAT(spec, IsOk());
    (*spec)["windows"]["network"]["networkNamespace"] = ns;
    auto c = run(vm.createContainer(id, {*layer}, *spec));
    EXPECT_THAT(c, IsOk());
    return std::move(*c);
  };
  // B listens; A shows its interface, DNS and route, then talks to B.
  // (B's stdin stays open: busybox nc quits at stdin EOF, which could come
  // before A's bytes do.)
  auto b = container(vmB, "peer-b", *nsB->id, "nc -l -p 7777");
  auto pb = run(b->start({}, {.in = true, .out = true}));
  ASSERT_THAT(pb, IsOk());
  auto a = container(vmA, "peer-a", *nsA->id,
                     "ip addr show eth0; ip route; cat /etc/resolv.conf; "
                     "for i in $(seq 50); do echo hello-from-a | nc -w 2 " + ipB + " 7777 && exit 0; sleep 0.1; done; exit 1");
  auto pa = run(a->start({}, {.out = true}));
  ASSERT_THAT(pa, IsOk());
  std::string outA = *run(runtime::readToEnd(*(*pa)->stdoutStream()));
  EXPECT_EQ(*run((*pa)->wait()), 0u) << outA;
  EXPECT_THAT(outA, HasSubstr("inet " + ipA + "/24"));
  std::string mac = *epA->macAddress;
  for (auto& ch : mac) ch = ch == '-' ? ':' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_THAT(outA, HasSubstr("link/ether " + mac));
  EXPECT_THAT(outA, HasSubstr("default via 192.0.2.1 dev eth0"));
  EXPECT_THAT(outA, HasSubstr("nameserver 192.0.2.53"));
  EXPECT_THAT(outA, HasSubstr("search sim.test"));
  EXPECT_EQ(*run(runtime::readToEnd(*(*pb)->stdoutStream())), "hello-from-a\n");
  EXPECT_EQ(*run((*pb)->wait()), 0u);
  (void)run(a->waitExit());
  (void)run(b->waitExit());
  EXPECT_THAT(run(a->remove()), IsOk());
  EXPECT_THAT(run(b->remove()), IsOk());
  // Unplugging: the NIC leaves the guest's namespace and the host.
  ASSERT_THAT(run(vmA.removeNetworkEndpoint(*epA->id)), IsOk());
  auto links = [&] {
    return runtime::blockOn(rt_->loop(), [](runtime::Runtime& rt) -> Task<std::string> {
      runtime::ProcessSpec spec{.path = "ip", .args = {"ip", "-br", "link"}};
      spec.stdoutMode = runtime::StdioMode::kPipe;
      auto p = rt.processes().spawn(spec);
      if (!p.ok()) co_return std::string();
      auto out = co_await runtime::readToEnd(*(*p)->stdoutStream());
      (void)co_await (*p)->wait();
      co_return out.ok() ? *out : std::string();
    }(*rt_));
  };
  auto hex8 = [](const std::string& id) {
    std::string h;
    for (char ch : id) {  // as the fake names interfaces: the id's first 8 hex digits, lower case
      if (std::isxdigit(static_cast<unsigned char>(ch)) && h.size() < 8) {
        h.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      }
    }
    return h;
  };
  // The host end of a NIC: the sim backend's veth, the qemu backend's tap.
  std::string port = qemu() ? "hcst" : "hcsh";
  EXPECT_THAT(links(), ::testing::Not(HasSubstr(port + hex8(*epA->id))));
  EXPECT_THAT(links(), HasSubstr(port + hex8(*epB->id)));
  for (auto& vm : vms_) EXPECT_THAT(run(vm->close()), IsOk());
  vms_.clear();
  // Stopping a VM takes its NICs and, with the last one, the network's
  // bridge. (Only this scenario's names: other suites may run VMs on this
  // host at the same time.)
  std::vector<std::string> ours = {port + hex8(*epA->id), port + hex8(*epB->id), "hcsbr" + hex8(*net->id)};
  auto left = [&] {
    std::string now = links(), found;
    for (const auto& name : ours) {
      if (now.find(name) != std::string::npos) found += name + " ";
    }
    return found;
  };
  (void)runtime::waitForBlocking(rt_->loop(), [&] { return left().empty(); }, std::chrono::seconds(2));
  EXPECT_EQ(left(), "") << "NIC or bridge left on the host";
  EXPECT_THAT(run(hcn.deleteEndpoint(*epA->id)), IsOk());
}

TEST_F(UvmTest, HotAddAndRemoveAnExt4DiskAsScsi) {
  auto& vm = boot("vm-scsi");
  std::string src = dir_ + "/disk-src";
  fs::create_directories(src);
  std::ofstream(src + "/hello.txt") << "from the disk\n";
  std::string image = dir_ + "/disk.img";
  ASSERT_EQ(runTool(*rt_, {"mkfs.ext4", "-q", "-F", "-d", src, image, "8M"}), 0) << "mkfs.ext4 (e2fsprogs)";
  auto disk = run(vm.addScsi(image, /*readOnly=*/true));
  ASSERT_THAT(disk, IsOk());
  EXPECT_EQ(disk->controller, 0u);
  EXPECT_EQ(disk->lun, 0u);
  auto again = run(vm.addScsi(image, true));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->guestPath, disk->guestPath) << "reference counted";
  auto [code, out] = uvmRun(vm, "cat " + disk->guestPath + "/hello.txt");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "from the disk\n");
  // HCS shows the attachment.
  auto props = run(vm.system().properties({schema::kConfigurationPropertyType}));
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->configuration["VirtualMachine"]["Devices"]["Scsi"][uvm::kScsiControllerGuids[0]]["Attachments"]["0"]
                ["Path"],
            image);
  ASSERT_THAT(run(vm.removeScsi(image)), IsOk());
  EXPECT_EQ(uvmRun(vm, "cat " + disk->guestPath + "/hello.txt").first, 0) << "one reference left";
  ASSERT_THAT(run(vm.removeScsi(image)), IsOk());
  EXPECT_NE(uvmRun(vm, "cat " + disk->guestPath + "/hello.txt").first, 0) << "unplugged";
  EXPECT_THAT(run(vm.removeScsi(image)), ::testing::Not(IsOk()));
}

TEST_F(UvmTest, SharesADirectory) {
  auto& vm = boot("vm-share");
  std::string share = dir_ + "/shared";
  fs::create_directories(share);
  std::ofstream(share + "/note.txt") << "shared\n";
  auto guestPath = run(vm.addPlan9(share, /*readOnly=*/true));
  ASSERT_THAT(guestPath, IsOk());
  auto [code, out] = uvmRun(vm, "cat " + *guestPath + "/note.txt; touch " + *guestPath + "/x");
  EXPECT_THAT(out, HasSubstr("shared"));
  EXPECT_THAT(out, HasSubstr("Read-only"));
  EXPECT_NE(code, 0);
  ASSERT_THAT(run(vm.removePlan9(share)), IsOk());
}

TEST_F(UvmTest, GuestKilledFromOutsideIsAnUnexpectedExit) {
  auto& vm = boot("vm-crash");
  int pid = guestPid("vm-crash");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto exit = run(vm.waitExit());
  EXPECT_EQ(exit.exitType, "UnexpectedExit");
  // Every call fails cleanly, naming the VM.
  bridge::ProcessParameters pp;
  pp.commandArgs = {"true"};
  auto p = run(vm.exec(pp, {}));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().id(), "vm-crash");
  EXPECT_THAT(run(vm.addScsi(dir_ + "/nothing", true)), ::testing::Not(IsOk()));
  EXPECT_THAT(run(vm.system().start()), HResultIs(hr::kHcsInvalidState));
  EXPECT_THAT(run(vm.close()), IsOk());
}

// A paused VM stops (its process's output stops growing) and a resumed one
// goes on with nothing lost or garbled on the way (under QEMU the vsock
// rings stop and start again across the pause).
TEST_F(UvmTest, PauseStopsTheGuestAndResumeLosesNothing) {
  auto& vm = boot("vm-pause");
  bridge::ProcessParameters pp;
  pp.commandArgs = {"/bin/sh", "-c", "i=0; while [ $i -lt 4000 ]; do echo line-$i; i=$((i+1)); done"};
  auto p = run(vm.exec(pp, {.out = true}));
  ASSERT_THAT(p, IsOk());
  std::string out;
  bool eof = false;
  runtime::spawn([](runtime::Stream& s, std::string& out, bool& eof) -> Task<void> {
    char buf[4096];
    for (;;) {
      auto n = co_await s.read(std::span<char>(buf, sizeof buf));
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    eof = true;
  }(*(*p)->stdoutStream(), out, eof));
  for (int round = 0; round < 3 && !eof; ++round) {
    ASSERT_TRUE(runtime::waitForBlocking(rt_->loop(), [&] { return out.size() > (round + 1) * 2000u || eof; },
                                         std::chrono::seconds(60)))
        << "round " << round << ": the output stopped at " << out.size() << " bytes";
    if (eof) break;
    ASSERT_THAT(run(vm.system().pause()), IsOk());
    // Let what was already on its way arrive, then it must stand still.
    (void)runtime::waitForBlocking(rt_->loop(), [] { return false; }, std::chrono::milliseconds(300));
    size_t frozen = out.size();
    (void)runtime::waitForBlocking(rt_->loop(), [] { return false; }, std::chrono::milliseconds(700));
    EXPECT_EQ(out.size(), frozen) << "output grew while the VM was paused (round " << round << ")";
    ASSERT_THAT(run(vm.system().resume()), IsOk());
  }
  ASSERT_TRUE(runtime::waitForBlocking(rt_->loop(), [&] { return eof; }, std::chrono::seconds(120)));
  EXPECT_EQ(*run((*p)->wait()), 0u);
  std::string want;
  for (int i = 0; i < 4000; ++i) want += "line-" + std::to_string(i) + "\n";
  EXPECT_EQ(out.size(), want.size());
  EXPECT_TRUE(out == want) << "the output was garbled across pause/resume";
}

// A fake HCS killed with SIGKILL takes its VMs with it: QEMU and diod die
// with it (PDEATHSIG), the vsock device removes the VM's sockets and files
// on its way out.
TEST_F(UvmTest, KilledDaemonLeavesNoVmBehind) {
  if (!qemu()) GTEST_SKIP() << "sim backend: its VM cgroups are removed by the daemon, which SIGKILL stops";
  auto& vm = boot("vm-orphan");
  std::string share = dir_ + "/orphan-share";
  fs::create_directories(share);
  ASSERT_THAT(run(vm.addPlan9(share, /*readOnly=*/true)), IsOk());  // a diod serves the mount
  ASSERT_GT(guestPid("vm-orphan"), 0);
  daemonPid_ = daemon_->pid();
  ASSERT_EQ(::kill(daemonPid_, SIGKILL), 0);
  (void)daemon_->stop();  // reaps it
  daemon_.reset();
  for (auto& v : vms_) (void)run(v->close());  // the host side lets go of its own listeners
  vms_.clear();
  hcs_.reset();
  EXPECT_TRUE(runtime::waitForBlocking(rt_->loop(), [&] { return leftovers().empty(); }, std::chrono::seconds(15)));
  EXPECT_THAT(leftovers(), ::testing::IsEmpty());
}

// A test runner's timeout kills the daemon's whole process group: the
// vhost-user devices die with it before they can remove the VM
// directories. The next daemon removes what dead daemons left.
TEST_F(UvmTest, NextDaemonRemovesWhatADaemonKilledWithItsDevicesLeft) {
  if (!qemu()) GTEST_SKIP() << "sim backend: no per-daemon VM directories";
  boot("vm-group-killed");
  daemonPid_ = daemon_->pid();
  std::string stale = qemuRoot();
  // Its children (QEMU, the vhost-user devices, diod) first, then the
  // daemon: a device outliving the daemon for a moment would clean up on
  // its parent-death signal, which is not the case under test.
  std::vector<int> group;
  std::error_code ec;
  for (const auto& p : fs::directory_iterator("/proc", ec)) {
    std::string stat = runtime::readFile(std::string(p.path() / "stat")).value_or("");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    int ppid = std::atoi(stat.c_str() + close + 4);  // ") S <ppid>"
    if (ppid == daemonPid_) group.push_back(std::atoi(p.path().filename().c_str()));
  }
  for (int pid : group) ::kill(pid, SIGKILL);
  ::kill(daemonPid_, SIGKILL);
  (void)daemon_->stop();
  daemon_.reset();
  for (auto& v : vms_) (void)run(v->close());
  vms_.clear();
  hcs_.reset();
  ASSERT_TRUE(fs::exists(stale)) << "the devices died before they could clean up";
  auto next = functional::HcsFakeDaemon::start(*rt_, dir_ + "/next", daemonArgs());
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(fs::exists(stale)) << "the next daemon removed " << stale;
  EXPECT_EQ((*next)->stop(), 0);
  fs::remove_all(platforms::vsockRootFor((*next)->address()), ec);
  for (const auto& e : fs::directory_iterator(vsockRoot_, ec)) fs::remove(e.path(), ec);  // what the killed daemon's VMs had
}

// A daemon in a PID namespace of its own (a test under Bazel's
// linux-sandbox) sees this daemon's cgroups and VM directories under a pid
// that means nothing there, and cgroup v2 lists this VM's processes to it as
// pid 0 (kill(0) is its own process group): it must take none of it for a
// dead daemon's leftovers, and must survive its own start-up sweep. (CI
// once lost a sandboxed test this way.)
TEST_F(UvmTest, ADaemonInAnotherPidNamespaceLeavesALiveDaemonsVmsAlone) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a PID namespace";
  auto& vm = boot("vm-bystander");
  int guest = guestPid("vm-bystander");
  ASSERT_GT(guest, 0);
  std::string other = dir_ + "/other", log = dir_ + "/other.log";
  fs::create_directories(other);
  std::string bin = functional::HcsFakeDaemon::runfile("hcs_fake/hcs_fake");
  runtime::ProcessSpec spec{.path = "unshare",
                            .args = {"unshare", "--pid", "--fork", "--kill-child", bin, "--address",
                                     "unix://" + other + "/hcs.sock", "--vm-backend", "none", "--log-file", log}};
  auto sandboxed = rt_->processes().spawn(spec);
  ASSERT_THAT(sandboxed, IsOk());
  auto swept = [&] { return runtime::readFile(log).value_or("").find("hcs_fake.owner.swept") != std::string::npos; };
  bool done = runtime::waitForBlocking(rt_->loop(), [&] { return swept() || (*sandboxed)->exitStatus(); },
                                       std::chrono::seconds(30));
  std::string text = runtime::readFile(log).value_or("");
  EXPECT_TRUE(done && swept()) << text;
  EXPECT_FALSE((*sandboxed)->exitStatus().has_value()) << "the sandboxed daemon survived its sweep: " << text;
  EXPECT_EQ(text.find("stale_cgroups_removed"), std::string::npos) << text;
  EXPECT_EQ(text.find("stale_dir_removed"), std::string::npos) << text;
  EXPECT_EQ(::kill(guest, 0), 0) << "the bystander VM's guest still runs";
  EXPECT_EQ(guestPid("vm-bystander"), guest);
  EXPECT_TRUE(daemon_->running());
  // And HCS still reports it running.
  auto props = run(vm.system().properties({}));
  EXPECT_THAT(props, IsOk());
  if (props.ok()) {
    EXPECT_EQ(props->state, "Running");
  }
  (void)(*sandboxed)->signal(SIGKILL);  // unshare ignores SIGTERM; --kill-child takes the daemon along
  (void)run((*sandboxed)->wait());
}

TEST_F(UvmTest, BadOptionsAreRefusedBeforeAnythingIsCreated) {
  uvm::LcowOptions o{.id = "vm-bad", .bootFilesPath = boot_, .memoryMB = 16};
  auto vsock = std::make_unique<platforms::HybridVsockHost>(rt_->transport(), vsockRoot_ + "/vm-bad.sock");
  auto vm = run(uvm::UtilityVM::create(*rt_, *hcs_, std::move(vsock), o));
  EXPECT_THAT(vm, HResultIs(hr::kInvalidArg));
  o.memoryMB = 512;
  o.bootFilesPath = dir_ + "/no-such-dir";
  vsock = std::make_unique<platforms::HybridVsockHost>(rt_->transport(), vsockRoot_ + "/vm-bad.sock");
  vm = run(uvm::UtilityVM::create(*rt_, *hcs_, std::move(vsock), o));
  EXPECT_THAT(vm, HResultIs(hr::kFileNotFound));
  EXPECT_EQ(vm.status().op(), "CreateComputeSystem");
}

// Host -> guest over hybrid vsock: "CONNECT <port>" on the VM's socket
// reaches a listener in the guest (in simulation, the unix socket the VMM
// forwards port 5000 to); a port nobody listens on is refused by closing.
TEST_F(UvmTest, HostDialsAGuestPortOverHybridVsock) {
  if (qemu()) {
    GTEST_SKIP() << "qemu backend: the guest image has no program listening on vsock; host-initiated CONNECT is "
                    "covered against a guest driver by //sim/vsock:vsock_test";
  }
  auto& vm = boot("vm-dial");
  std::string uds = platforms::hybridVsockPath(vsockRoot_, "vm-dial");
  auto guestListener = rt_->transport().listen("unix://" + uds + ".guest_5000");
  ASSERT_THAT(guestListener, IsOk());
  platforms::HybridVsockHost host(rt_->transport(), uds);
  bool served = false;
  runtime::spawn([](runtime::Listener& l, bool& served) -> Task<void> {
    auto s = co_await l.accept();
    if (!s.ok()) co_return;
    auto ping = co_await runtime::readExactly(**s, 5);
    if (ping.ok() && *ping == "ping\n") (void)co_await (*s)->write("pong\n");
    (void)(*s)->shutdownWrite();
    served = true;
  }(**guestListener, served));
  auto conn = run(host.dial(5000));
  ASSERT_THAT(conn, IsOk());
  ASSERT_THAT(run((*conn)->write("ping\n")), IsOk());
  EXPECT_EQ(*run(runtime::readToEnd(**conn)), "pong\n");
  EXPECT_TRUE(served);
  auto refused = run(host.dial(5001));
  EXPECT_THAT(refused, ::testing::Not(IsOk()));
  EXPECT_THAT(refused.status().message(), HasSubstr("nothing listens there"));
  (void)vm;
}

// A layer that is an image file reaches the guest as a VPMem device; the
// running container reports its processes and cgroup metrics.
TEST_F(UvmTest, ContainerFromAnImageLayerWithPropertiesAndMetrics) {
  auto& vm = boot("vm-img");
  auto layer = functional::makeBusyboxLayer(*rt_, dir_);
  ASSERT_THAT(layer, IsOk());
  std::string image = dir_ + "/busybox.img";
  ASSERT_EQ(runTool(*rt_, {"mkfs.ext4", "-q", "-F", "-d", *layer, image, "16M"}), 0) << "mkfs.ext4 (e2fsprogs)";
  auto spec = functional::runcSpec(*rt_, dir_, "/", {"sh", "-c", "trap 'exit 0' TERM; touch /trapped; while :; do sleep 0.1; done"});
  ASSERT_THAT(spec, IsOk());
  auto c = run(vm.createContainer("img", {image}, *spec));
  ASSERT_THAT(c, IsOk());
  auto init = run((*c)->start({}, {}));
  ASSERT_THAT(init, IsOk());
  ASSERT_TRUE(trapped(vm, "img")) << "the container's shell set its TERM trap";
  auto [code, out] = uvmRun(vm, "grep -c ' /run/layers/p0 ' /proc/mounts");
  EXPECT_EQ(out, "1\n") << "the image is mounted from a VPMem device";
  auto props = run((*c)->properties({"ProcessList", "Statistics"}));
  ASSERT_THAT(props, IsOk());
  EXPECT_FALSE(props->processList.empty());
  EXPECT_GE(props->lcowMetrics["pids"]["current"].get<int>(), 1) << props->lcowMetrics.dump();
  ASSERT_THAT(run((*c)->shutdown(false)), IsOk());
  auto exit = run((*c)->waitExit());
  ASSERT_THAT(exit, IsOk());
  EXPECT_EQ(exit->type, "GracefulExit");
  ASSERT_THAT(run((*c)->remove()), IsOk());
  std::tie(code, out) = uvmRun(vm, "grep -c ' /run/layers/p0 ' /proc/mounts");
  EXPECT_EQ(out, "0\n") << "the VPMem device went with the container";
}

// A layer image larger than the VM's VPMem devices goes on SCSI (as
// hcsshim falls back); a scratch disk image is the container's writable
// layer on SCSI: what the container writes is on that disk afterwards.
TEST_F(UvmTest, ALayerTooLargeForVpmemGoesOnScsiAndTheScratchIsADisk) {
  auto& vm = boot("vm-scsi-layers", 512, [](uvm::LcowOptions& o) { o.vpmemSizeBytes = 4 << 20; });
  auto layer = functional::makeBusyboxLayer(*rt_, dir_);
  ASSERT_THAT(layer, IsOk());
  std::string image = dir_ + "/big-layer.img", scratch = dir_ + "/scratch.img";
  ASSERT_EQ(runTool(*rt_, {"mkfs.ext4", "-q", "-F", "-d", *layer, image, "16M"}), 0) << "mkfs.ext4 (e2fsprogs)";
  ASSERT_EQ(runTool(*rt_, {"mkfs.ext4", "-q", "-F", scratch, "16M"}), 0);
  auto spec = functional::runcSpec(*rt_, dir_, "/", {"sh", "-c", "trap 'exit 0' TERM; echo written-in-the-vm > /proof; while :; do sleep 0.1; done"});
  ASSERT_THAT(spec, IsOk());
  auto c = run(vm.createContainer("big", {image}, *spec, scratch));
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(run((*c)->start({}, {})), IsOk());
  auto [code, out] = uvmRun(vm, "grep ' /run/gcs/c/big/rootfs ' /proc/mounts");
  EXPECT_THAT(out, ::testing::ContainsRegex("lowerdir=/run/mounts/scsi/m[0-9]+,upperdir=/run/mounts/scsi/m[0-9]+/scratch/big/"))
      << "both on SCSI";
  EXPECT_TRUE(runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] {
    return uvmRun(vm, "cat /run/gcs/c/big/rootfs/proof").second == "written-in-the-vm\n";
  }, std::chrono::seconds(20))));
  ASSERT_THAT(run((*c)->shutdown(false)), IsOk());
  (void)run((*c)->waitExit());
  ASSERT_THAT(run((*c)->remove()), IsOk());
  std::tie(code, out) = uvmRun(vm, "grep -c /run/mounts/scsi /proc/mounts");
  EXPECT_EQ(out, "0\n") << "both disks went with the container";
  // The write is on the scratch disk, as e2fsprogs reads it on the host.
  auto cat = runtime::blockOn(rt_->loop(), [](runtime::Runtime& rt, std::string disk) -> Task<std::string> {
    runtime::ProcessSpec spec{.path = "debugfs", .args = {"debugfs", "-R", "cat /scratch/big/upper/proof", disk}};
    spec.stdoutMode = runtime::StdioMode::kPipe;
    spec.stderrMode = runtime::StdioMode::kNull;
    auto p = rt.processes().spawn(spec);
    if (!p.ok()) co_return std::string();
    auto text = co_await runtime::readToEnd(*(*p)->stdoutStream());
    (void)co_await (*p)->wait();
    co_return text.ok() ? *text : std::string();
  }(*rt_, scratch));
  EXPECT_EQ(cat, "written-in-the-vm\n");
}

// The guest agent of hcsshim treats EOF on the bridge as fatal (it exits 1).
// Against such a guest, close() must shut the VM down through HCS while the
// bridge is up and hang up only after the VM exited: the exit is graceful.
class UvmEofFatalGuestTest : public UvmTest {
 protected:
  std::vector<std::string> gcsArgs() const override { return {"--exit-on-bridge-eof"}; }
};

TEST_F(UvmEofFatalGuestTest, CloseShutsTheVmDownBeforeHangingUp) {
  auto& vm = boot("vm-eof");
  ASSERT_THAT(run(vm.close()), IsOk());
  hcs::SystemExit exit = run(vm.waitExit());
  EXPECT_EQ(exit.exitType, "GracefulExit") << "status " << exit.status;
  EXPECT_EQ(exit.status, hr::kOk);
}

}  // namespace
}  // namespace hcsshim
