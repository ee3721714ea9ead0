// SCSI disks found as Hyper-V (VMBus) and QEMU (virtio-scsi on PCI) kernels
// show them, in a sysfs tree built by the test.
#include "gcs/devices.h"

#include <cstdlib>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hcsshim::gcs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class DevicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sys_ = std::string(std::getenv("TEST_TMPDIR")) + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/sys";
    fs::remove_all(sys_);
  }
  void mk(const std::string& rel) { fs::create_directories(sys_ + "/" + rel); }
  std::string sys_;
};

TEST_F(DevicesTest, HyperVControllerIsFoundByItsVmbusGuid) {
  mk(std::string("bus/vmbus/devices/") + kLcowScsiControllerGuids[1] + "/host3");
  mk("bus/scsi/devices/3:0:0:5/block/sdc");
  EXPECT_EQ(*scsiHostNumber(sys_, 1), 3);
  EXPECT_EQ(*findScsiDisk(sys_, 1, 5), "/dev/sdc");
  EXPECT_EQ(findScsiDisk(sys_, 1, 6).status().code(), Code::kNotFound);
}

TEST_F(DevicesTest, QemuControllerIsFoundByItsPciSlot) {
  // Controller 0 at slot 0x10, controller 2 at 0x12; host numbers in probe order.
  mk("bus/pci/devices/0000:00:10.0/virtio1/host0");
  mk("bus/pci/devices/0000:00:12.0/virtio3/host1");
  mk("bus/scsi/devices/0:0:0:0/block/sda");
  mk("bus/scsi/devices/1:0:0:0/block/sdb");
  EXPECT_EQ(*findScsiDisk(sys_, 0, 0), "/dev/sda");
  EXPECT_EQ(*findScsiDisk(sys_, 2, 0), "/dev/sdb");
  auto missing = findScsiDisk(sys_, 1, 0);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("0000:00:11.0"));
  EXPECT_EQ(scsiHostNumber(sys_, 4).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace hcsshim::gcs
