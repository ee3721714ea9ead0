// hcs_storage_api.h: the HCS storage seam - the layer calls of
// computestorage.dll (facts: windows-platform.md, "computestorage.dll").
//
// Implementations:
//   platforms::windows::ComputeStorage   computestorage.dll, loaded at run time
// (Linux keeps LCOW layers as ext4 images of its own: platforms/linux's
// LayerStore; nothing on Linux implements this seam.)
//
//   auto data = storage::layerData({{.id = guid, .path = "C:\\layers\\base"}});
//   co_await api.importLayer("C:\\layers\\l1", "C:\\tmp\\l1-files", data);
//
// Contract: paths are Windows paths; `layerData` is the LayerData document
// (layerData() makes it). Errors carry the DLL's HRESULT (Status::hresult());
// a host without computestorage.dll, or without an export, gets Unavailable
// naming it from the call that needs it. The VHD calls take a handle the
// caller opened (virtdisk.dll's OpenVirtualDisk/AttachVirtualDisk, as
// hcsshim does), passed through as an integer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/task.h"

namespace hcsshim::storage {

struct Layer {
  std::string id;    // a GUID
  std::string path;  // the layer's folder
  std::string pathType = "AbsolutePath";
};

// layerData: {"SchemaVersion":{"Major":2,"Minor":1},"Layers":[{"Id","Path","PathType"}...]}.
std::string layerData(const std::vector<Layer>& layers);

class HcsStorageApi {
 public:
  virtual ~HcsStorageApi() = default;
  virtual runtime::Task<Status> importLayer(std::string layerPath, std::string sourceFolder, std::string layerData) = 0;
  virtual runtime::Task<Status> exportLayer(std::string layerPath, std::string exportFolder, std::string layerData,
                                            std::string options) = 0;
  virtual runtime::Task<Status> destroyLayer(std::string layerPath) = 0;
  virtual runtime::Task<Status> setupBaseOsLayer(std::string layerPath, uintptr_t vhd, std::string options) = 0;
  virtual runtime::Task<Status> setupBaseOsVolume(std::string layerPath, std::string volumePath, std::string options) = 0;
  virtual runtime::Task<Status> initializeWritableLayer(std::string path, std::string layerData, std::string options) = 0;
  virtual runtime::Task<Status> attachLayerStorageFilter(std::string layerPath, std::string layerData) = 0;
  virtual runtime::Task<Status> detachLayerStorageFilter(std::string layerPath) = 0;
  virtual runtime::Task<Status> formatWritableLayerVhd(uintptr_t vhd) = 0;
  virtual runtime::Task<StatusOr<std::string>> getLayerVhdMountPath(uintptr_t vhd) = 0;
};

}  // namespace hcsshim::storage
