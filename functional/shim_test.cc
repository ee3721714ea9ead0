// containerd-shim-runhcs-v1 with Debian's real containerd and ctr: tasks run
// in utility VMs on the fake HCS (sim backend, real gcs and runc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "functional/harness/containerd.h"
#include "functional/harness/gcs_guest.h"
#include "functional/harness/hcs_fake_daemon.h"
#include "functional/harness/oci_image.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

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
    auto d = functional::HcsFakeDaemon::start(*rt_, dir_, {"-quiet"});
    ASSERT_THAT(d, IsOk());
    hcs_ = std::move(*d);
    functional::ContainerdOptions o;
    o.env["HCS_FAKE_ADDRESS"] = hcs_->address();
    o.pathPrepend = fs::path(functional::HcsFakeDaemon::runfile("src/shim/containerd-shim-runhcs-v1")).parent_path();
    auto c = runtime::blockOn(rt_->loop(), functional::ContainerdInstance::start(*rt_, o));
    ASSERT_THAT(c, IsOk());
    ctd_ = std::move(*c);
    auto layer = functional::makeBusyboxLayer(*rt_, dir_);
    ASSERT_THAT(layer, IsOk());
    auto tar = functional::buildImageTar(*rt_, *layer, dir_, kImage);
    ASSERT_THAT(tar, IsOk());
    auto [code, out] = ctr({"images", "import", *tar});
    ASSERT_EQ(code, 0) << out;
  }

  void TearDown() override {
    if (ctd_) {
      EXPECT_THAT(runtime::blockOn(rt_->loop(), ctd_->stop()), IsOk());
    }
    if (hcs_) {
      EXPECT_EQ(hcs_->stop(), 0);
    }
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  std::pair<int, std::string> ctr(std::vector<std::string> args, std::string input = "") {
    return runtime::blockOn(rt_->loop(), ctd_->ctrOutput(std::move(args), std::move(input)));
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_;
  std::unique_ptr<functional::HcsFakeDaemon> hcs_;
  std::unique_ptr<functional::ContainerdInstance> ctd_;
};

TEST_F(ShimTest, CtrRunEchoHello) {
  auto [code, out] = ctr({"run", "--runtime", kRuntime, "--rm", kImage, "hello1", "echo", "hello"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "hello\n");
}

TEST_F(ShimTest, ExitCodesPropagate) {
  auto [code, out] = ctr({"run", "--runtime", kRuntime, "--rm", kImage, "exit3", "sh", "-c", "exit 3"});
  EXPECT_EQ(code, 3) << out;
}

}  // namespace
}  // namespace hcsshim
