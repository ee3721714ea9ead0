// The LCOW compute system document: the kernel command line and where the
// guest's init arguments come from (the boot files' configuration).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "src/common/status_matchers.h"
#include "src/uvm/uvm.h"

namespace hcsshim::uvm {
namespace {

using ::hcsshim::testing::StatusIs;
using ::testing::EndsWith;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class LcowDocumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    boot_ = std::string(std::getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(boot_);
    std::ofstream(boot_ + "/vmlinux") << "k";
    std::ofstream(boot_ + "/initrd.img") << "i";
  }
  LcowOptions options() { return LcowOptions{.id = "vm1", .bootFilesPath = boot_, .processors = 2}; }
  std::string boot_;
};

TEST_F(LcowDocumentTest, TheDefaultInitIsOurs) {
  auto doc = lcowDocument(options());
  ASSERT_TRUE(doc.ok()) << doc.status().toString();
  const auto& direct = *doc->virtualMachine->chipset->linuxKernelDirect;
  EXPECT_EQ(*direct.kernelFilePath, boot_ + "/vmlinux");
  EXPECT_EQ(*direct.initRdPath, boot_ + "/initrd.img");
  EXPECT_EQ(*direct.kernelCmdLine,
            "panic=-1 quiet pci=off nr_cpus=2 brd.rd_nr=0 pmtmr=0 -- -e 1 /bin/vsockexec -e 109 /bin/gcs --init");
}

TEST(JoinHostPath, JoinsTheWayTheFolderIsWritten) {
  EXPECT_EQ(joinHostPath("C:\\ContainerPlat\\LinuxBootFiles", "kernel"), "C:\\ContainerPlat\\LinuxBootFiles\\kernel");
  EXPECT_EQ(joinHostPath("C:\\boot\\", "initrd.img"), "C:\\boot\\initrd.img");
  EXPECT_EQ(joinHostPath("/var/lib/boot", "vmlinux"), "/var/lib/boot/vmlinux");
  EXPECT_EQ(joinHostPath("/var/lib/boot/", "vmlinux"), "/var/lib/boot/vmlinux");
  EXPECT_EQ(joinHostPath("C:/boot", "kernel"), "C:/boot/kernel");
}

TEST_F(LcowDocumentTest, AWindowsBootFolderGetsWindowsPaths) {
  LcowOptions o = options();
  o.bootFilesPath = "C:\\ContainerPlat\\LinuxBootFiles";
  auto doc = lcowDocument(o);
  ASSERT_TRUE(doc.ok()) << doc.status().toString();
  const auto& direct = *doc->virtualMachine->chipset->linuxKernelDirect;
  EXPECT_EQ(*direct.kernelFilePath, "C:\\ContainerPlat\\LinuxBootFiles\\kernel");
  EXPECT_EQ(*direct.initRdPath, "C:\\ContainerPlat\\LinuxBootFiles\\initrd.img");
}

TEST_F(LcowDocumentTest, TheBootFilesNameTheirOwnInit) {
  std::ofstream(boot_ + "/init-args") << "-e 1 /bin/vsockexec -e 109 /bin/gcs -v4 -log-format json -loglevel info\n";
  auto cmd = kernelCommandLine(options());
  ASSERT_TRUE(cmd.ok()) << cmd.status().toString();
  EXPECT_THAT(*cmd, EndsWith(" -- -e 1 /bin/vsockexec -e 109 /bin/gcs -v4 -log-format json -loglevel info"));
  // The options win over the boot files.
  LcowOptions o = options();
  o.initArgs = "/sbin/myinit --fast";
  o.kernelBootOptions = "console=ttyS0";
  EXPECT_EQ(*kernelCommandLine(o), "console=ttyS0 panic=-1 quiet pci=off nr_cpus=2 brd.rd_nr=0 pmtmr=0 -- /sbin/myinit --fast");
}

TEST_F(LcowDocumentTest, BadInitConfigurationIsAPreciseError) {
  std::ofstream(boot_ + "/init-args") << "\n";
  EXPECT_THAT(lcowDocument(options()), StatusIs(Code::kInvalidArgument, "init-args is empty"));
  std::ofstream(boot_ + "/init-args") << "/bin/a\n/bin/b\n";
  EXPECT_THAT(lcowDocument(options()), StatusIs(Code::kInvalidArgument, "must be one line"));
  fs::remove(boot_ + "/init-args");
  LcowOptions o = options();
  o.initArgs = std::string(3000, 'x');
  EXPECT_THAT(lcowDocument(o), StatusIs(Code::kInvalidArgument, "the limit is 2048"));
}

}  // namespace
}  // namespace hcsshim::uvm
