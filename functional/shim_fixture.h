// shim_fixture.h: the fixture of the shim's functional suites - a private
// fake HCS daemon (sim backend: VMs are real gcs processes with real runc),
// Debian's containerd with the runhcs runtime on PATH, and the busybox test
// image imported - plus what the suites ask of the host (compute systems in
// the fake HCS, processes by command line).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "functional/harness/containerd.h"
#include "functional/harness/gcs_guest.h"
#include "functional/harness/hcs_fake_daemon.h"
#include "functional/harness/oci_image.h"
#include "platforms/linux/daemon_hcs.h"
#include "src/common/json.h"
#include "src/common/status_matchers.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/wait_for.h"

namespace hcsshim {

constexpr const char* kImage = "docker.io/library/busybox:hcsshim-test";
constexpr const char* kRuntime = "io.containerd.runhcs.v1";

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (containerd, runc, namespaces)";
    if (!functional::ContainerdInstance::binaryAvailable()) GTEST_SKIP() << "containerd not installed";
    rt_ = std::move(*runtime::RealRuntime::create("shim-test"));
    char tmpl[] = "/tmp/shim-XXXXXX";
    dir_ = mkdtemp(tmpl);
    // A long vsock root (as under a deep state directory): the VMs' hybrid
    // vsock sockets must not depend on fitting sockaddr_un.
    vsockRoot_ = dir_ + "/" + std::string(60, 'v') + "/" + std::string(60, 'w');
    ASSERT_NO_FATAL_FAILURE(startHcs());
    functional::ContainerdOptions o;
    o.env["HCS_FAKE_ADDRESS"] = hcs_->address();
    o.env["HCS_FAKE_VSOCK_ROOT"] = vsockRoot_;
    o.env["HCSSHIM_LAYER_STORE"] = dir_ + "/layers";  // this test's own store of layer images
    // SHIM_TEST_LOG_LEVEL=debug: containerd at debug, which runs the shim
    // with -debug (the guest's log then reaches containerd's log too).
    if (const char* level = getenv("SHIM_TEST_LOG_LEVEL")) o.logLevel = level;
    o.pathPrepend = std::filesystem::path(functional::HcsFakeDaemon::runfile("src/shim/cmd/containerd-shim-runhcs-v1")).parent_path();
    auto c = runtime::blockOn(rt_->loop(), functional::ContainerdInstance::start(*rt_, o));
    ASSERT_THAT(c, ::hcsshim::testing::IsOk());
    ctd_ = std::move(*c);
    auto layer = functional::makeBusyboxLayer(*rt_, dir_);
    ASSERT_THAT(layer, ::hcsshim::testing::IsOk());
    auto tar = functional::buildImageTar(*rt_, *layer, dir_, kImage);
    ASSERT_THAT(tar, ::hcsshim::testing::IsOk());
    auto [code, out] = ctr({"images", "import", *tar});
    ASSERT_EQ(code, 0) << out;
  }

  void TearDown() override {
    if (ctd_) {
      // A failed scenario keeps containerd's log (the shim's is in it) as a
      // test output.
      const char* outputs = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
      if (HasFailure() && outputs) {
        std::error_code ec;
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        std::filesystem::copy_file(ctd_->logPath(), std::string(outputs) + "/" + name + ".containerd.log",
                      std::filesystem::copy_options::overwrite_existing, ec);
      }
      EXPECT_THAT(runtime::blockOn(rt_->loop(), ctd_->stop()), ::hcsshim::testing::IsOk());
    }
    if (hcs_) {
      EXPECT_EQ(hcs_->stop(), 0);
    }
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // startHcs starts this test's fake HCS daemon (again, after one died: the
  // same socket, the same vsock root).
  void startHcs() {
    auto d = functional::HcsFakeDaemon::start(*rt_, dir_, {"-quiet", "--vsock-root", vsockRoot_});
    ASSERT_THAT(d, ::hcsshim::testing::IsOk());
    hcs_ = std::move(*d);
  }

  // eventually: pred became true within the deadline (checked every 25 ms).
  bool eventually(const std::function<bool()>& pred, runtime::Duration deadline = std::chrono::seconds(10)) {
    return runtime::waitForBlocking(rt_->loop(), pred, deadline, std::chrono::milliseconds(25));
  }

  std::pair<int, std::string> ctr(std::vector<std::string> args, std::string input = "") {
    return runtime::blockOn(rt_->loop(), ctd_->ctrOutput(std::move(args), std::move(input)));
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_, vsockRoot_;
  std::unique_ptr<functional::HcsFakeDaemon> hcs_;
  std::unique_ptr<functional::ContainerdInstance> ctd_;
};

// How many compute systems the fake HCS has.
inline size_t systemCount(runtime::Runtime& rt, const std::string& address) {
  return runtime::blockOn(rt.loop(), [](runtime::Runtime& rt, std::string address) -> runtime::Task<size_t> {
    auto api = co_await platforms::DaemonHcs::connect(rt, address);
    if (!api.ok()) co_return 999;
    auto list = co_await (*api)->enumerateComputeSystems("");
    if (!list.ok()) co_return 998;
    auto j = parseJson(*list);
    co_return j.ok() ? j->size() : 997;
  }(rt, address));
}

// pidOf: the first process whose command line contains every needle.
inline int pidOf(std::vector<std::string> needles) {
  std::error_code ec;
  for (const auto& p : std::filesystem::directory_iterator("/proc", ec)) {
    std::string line = runtime::readFile(std::string(p.path() / "cmdline")).value_or("");
    bool all = !line.empty();
    for (auto& n : needles) all = all && line.find(n) != std::string::npos;
    if (all) return std::atoi(p.path().filename().c_str());
  }
  return 0;
}

}  // namespace hcsshim
