#include "gcs/devices.h"

#include <cstdio>
#include <filesystem>

namespace hcsshim::gcs {

namespace fs = std::filesystem;

namespace {

// hostIn: N of the "host<N>" entry directly under dir.
int hostIn(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    int n;
    char extra;
    if (std::sscanf(e.path().filename().c_str(), "host%d%c", &n, &extra) == 1) return n;
  }
  return -1;
}

}  // namespace

StatusOr<int> scsiHostNumber(const std::string& sys, uint32_t controller) {
  if (controller > 3) return InvalidArgumentError("SCSI controller " + std::to_string(controller) + " is not 0..3");
  int n = hostIn(fs::path(sys) / "bus/vmbus/devices" / kLcowScsiControllerGuids[controller]);
  if (n >= 0) return n;
  char slot[32];
  std::snprintf(slot, sizeof slot, "0000:00:%02x.0", 0x10 + controller);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(sys) / "bus/pci/devices" / slot, ec)) {
    if (e.path().filename().string().rfind("virtio", 0) != 0) continue;
    n = hostIn(e.path());
    if (n >= 0) return n;
  }
  return NotFoundError("SCSI controller " + std::to_string(controller) + " is neither on VMBus (" +
                       kLcowScsiControllerGuids[controller] + ") nor at PCI slot " + slot);
}

StatusOr<std::string> findScsiDisk(const std::string& sys, uint32_t controller, uint32_t lun) {
  auto host = scsiHostNumber(sys, controller);
  if (!host.ok()) return host.status();
  std::string addr = std::to_string(*host) + ":0:0:" + std::to_string(lun);
  std::error_code ec;
  for (const auto& b : fs::directory_iterator(fs::path(sys) / "bus/scsi/devices" / addr / "block", ec)) {
    return "/dev/" + b.path().filename().string();
  }
  return NotFoundError("no disk at SCSI controller " + std::to_string(controller) + " LUN " + std::to_string(lun) +
                       " (" + addr + ")");
}

}  // namespace hcsshim::gcs
