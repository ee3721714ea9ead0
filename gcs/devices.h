// devices.h: where a utility VM's kernel shows HCS's hot-added disks.
//
// SCSI controller C (0..3), LUN L -> /dev/<name> of the single entry of
// <sys>/bus/scsi/devices/<N>:0:0:<L>/block/, N being the controller's
// SCSI host number, found as the kernel presents the controller:
//   Hyper-V  <sys>/bus/vmbus/devices/<controller GUID>/host<N>  (hcsshim's
//            GCS looks it up this way; GUIDs: kLcowScsiControllerGuids)
//   QEMU     <sys>/bus/pci/devices/0000:00:<0x10 + C>.0/virtio<k>/host<N>
//            (the fake HCS's qemu backend puts controller C at that slot)
// whichever exists. hcsshim polls every 10 ms, for up to 5 s, after an
// add: a hot-added disk appears about a second later.
#pragma once

#include <cstdint>
#include <string>

#include "src/common/status.h"

namespace hcsshim::gcs {

inline constexpr const char* kLcowScsiControllerGuids[4] = {
    "df6d0690-79e5-55b6-a5ec-c1e2f77f580a", "0110f83b-de10-5172-a266-78bca56bf50a",
    "b5d2d8d4-3a75-51bf-945b-3444dc6b8579", "305891a9-b251-5dfe-91a2-c25d9212275b"};

// scsiHostNumber: controller C's SCSI host number, or NotFound.
StatusOr<int> scsiHostNumber(const std::string& sysRoot, uint32_t controller);
// findScsiDisk: "/dev/<name>" of controller C, LUN L, or NotFound (one look).
StatusOr<std::string> findScsiDisk(const std::string& sysRoot, uint32_t controller, uint32_t lun);

}  // namespace hcsshim::gcs
