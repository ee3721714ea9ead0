// computestorage.h: the HCS storage seam (src/storage/hcs_storage_api.h)
// over computestorage.dll, loaded from System32 at run time; each export is
// resolved by the call that needs it (dll.h), strings cross as UTF-16, the
// mount path HcsGetLayerVhdMountPath returns is freed with CoTaskMemFree.
// Every call blocks in the DLL, so it runs on a thread of its own
// (blocking.h) and completes on the loop.
//
//   ComputeStorage storage(loop);
//   Status st = co_await storage.destroyLayer("C:\\layers\\l1");
//
// Errors: the DLL's HRESULT as the Status (HRESULT_FROM_WIN32 errors keep
// theirs), with the call and the layer path; Unavailable naming the missing
// DLL or export; InvalidArgument for a path or document that is not UTF-8.
// HcsDestroyLayer is the export's name (hcsshim v0.11.4 binds the
// misspelling HcsDestoryLayer, which the DLL does not export).
#pragma once

#include <vector>

#include "platforms/windows/dll.h"
#include "src/runtime/event_loop.h"
#include "src/storage/hcs_storage_api.h"

namespace hcsshim::platforms::windows {

class ComputeStorage final : public storage::HcsStorageApi {
 public:
  explicit ComputeStorage(runtime::EventLoop& loop) : loop_(loop) {}

  runtime::Task<Status> importLayer(std::string layerPath, std::string sourceFolder, std::string layerData) override;
  runtime::Task<Status> exportLayer(std::string layerPath, std::string exportFolder, std::string layerData,
                                    std::string options) override;
  runtime::Task<Status> destroyLayer(std::string layerPath) override;
  runtime::Task<Status> setupBaseOsLayer(std::string layerPath, uintptr_t vhd, std::string options) override;
  runtime::Task<Status> setupBaseOsVolume(std::string layerPath, std::string volumePath, std::string options) override;
  runtime::Task<Status> initializeWritableLayer(std::string path, std::string layerData, std::string options) override;
  runtime::Task<Status> attachLayerStorageFilter(std::string layerPath, std::string layerData) override;
  runtime::Task<Status> detachLayerStorageFilter(std::string layerPath) override;
  runtime::Task<Status> formatWritableLayerVhd(uintptr_t vhd) override;
  runtime::Task<StatusOr<std::string>> getLayerVhdMountPath(uintptr_t vhd) override;

 private:
  // callStrings: export `name`, whose arguments are 1-4 strings.
  runtime::Task<Status> callStrings(const char* name, std::vector<std::string> args, std::string subject);

  runtime::EventLoop& loop_;
  Dll dll_{L"computestorage.dll"};
};

}  // namespace hcsshim::platforms::windows
