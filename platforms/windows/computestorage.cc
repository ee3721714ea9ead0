#include "platforms/windows/computestorage.h"

#include <objbase.h>

#include "platforms/windows/blocking.h"
#include "src/common/utf16.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

namespace {

using Str1 = HRESULT(WINAPI*)(PCWSTR);
using Str2 = HRESULT(WINAPI*)(PCWSTR, PCWSTR);
using Str3 = HRESULT(WINAPI*)(PCWSTR, PCWSTR, PCWSTR);
using Str4 = HRESULT(WINAPI*)(PCWSTR, PCWSTR, PCWSTR, PCWSTR);
using HandleStr2 = HRESULT(WINAPI*)(PCWSTR, HANDLE, PCWSTR);
using HandleOnly = HRESULT(WINAPI*)(HANDLE);
using HandleOut = HRESULT(WINAPI*)(HANDLE, PWSTR*);

// An empty string crosses as NULL (the DLL's "none"), as hcsshim passes it.
const wchar_t* wide(const std::u16string& s) { return s.empty() ? nullptr : reinterpret_cast<const wchar_t*>(s.c_str()); }

Status failed(HRESULT hr, const char* call, const std::string& subject) {
  return Status::fromHResult(static_cast<HResult>(hr), call, subject, std::string(call) + " failed");
}

}  // namespace

Task<Status> ComputeStorage::callStrings(const char* name, std::vector<std::string> args, std::string subject) {
  std::vector<std::u16string> w;
  for (const auto& a : args) {
    auto u = toUtf16(a);
    if (!u.ok()) co_return InvalidArgumentError(std::string(name) + ": an argument is not UTF-8: " + u.status().message());
    w.push_back(std::move(*u));
  }
  switch (w.size()) {
    case 1: {
      auto f = dll_.proc<Str1>(name);
      if (!f.ok()) co_return f.status();
      auto call_task = blocking(loop_, [f = *f, &w] { return f(wide(w[0])); });
      HRESULT hr = co_await std::move(call_task);
      co_return FAILED(hr) ? failed(hr, name, subject) : OkStatus();
    }
    case 2: {
      auto f = dll_.proc<Str2>(name);
      if (!f.ok()) co_return f.status();
      auto call_task = blocking(loop_, [f = *f, &w] { return f(wide(w[0]), wide(w[1])); });
      HRESULT hr = co_await std::move(call_task);
      co_return FAILED(hr) ? failed(hr, name, subject) : OkStatus();
    }
    case 3: {
      auto f = dll_.proc<Str3>(name);
      if (!f.ok()) co_return f.status();
      auto call_task = blocking(loop_, [f = *f, &w] { return f(wide(w[0]), wide(w[1]), wide(w[2])); });
      HRESULT hr = co_await std::move(call_task);
      co_return FAILED(hr) ? failed(hr, name, subject) : OkStatus();
    }
    default: {
      auto f = dll_.proc<Str4>(name);
      if (!f.ok()) co_return f.status();
      auto call_task = blocking(loop_, [f = *f, &w] { return f(wide(w[0]), wide(w[1]), wide(w[2]), wide(w[3])); });
      HRESULT hr = co_await std::move(call_task);
      co_return FAILED(hr) ? failed(hr, name, subject) : OkStatus();
    }
  }
}

Task<Status> ComputeStorage::importLayer(std::string layerPath, std::string sourceFolder, std::string layerData) {
  return callStrings("HcsImportLayer", {layerPath, sourceFolder, layerData}, layerPath);
}

Task<Status> ComputeStorage::exportLayer(std::string layerPath, std::string exportFolder, std::string layerData,
                                         std::string options) {
  return callStrings("HcsExportLayer", {layerPath, exportFolder, layerData, options}, layerPath);
}

Task<Status> ComputeStorage::destroyLayer(std::string layerPath) {
  return callStrings("HcsDestroyLayer", {layerPath}, layerPath);
}

Task<Status> ComputeStorage::setupBaseOsVolume(std::string layerPath, std::string volumePath, std::string options) {
  return callStrings("HcsSetupBaseOSVolume", {layerPath, volumePath, options}, layerPath);
}

Task<Status> ComputeStorage::initializeWritableLayer(std::string path, std::string layerData, std::string options) {
  return callStrings("HcsInitializeWritableLayer", {path, layerData, options}, path);
}

Task<Status> ComputeStorage::attachLayerStorageFilter(std::string layerPath, std::string layerData) {
  return callStrings("HcsAttachLayerStorageFilter", {layerPath, layerData}, layerPath);
}

Task<Status> ComputeStorage::detachLayerStorageFilter(std::string layerPath) {
  return callStrings("HcsDetachLayerStorageFilter", {layerPath}, layerPath);
}

Task<Status> ComputeStorage::setupBaseOsLayer(std::string layerPath, uintptr_t vhd, std::string options) {
  auto path = toUtf16(layerPath);
  auto opts = toUtf16(options);
  if (!path.ok() || !opts.ok()) co_return InvalidArgumentError("HcsSetupBaseOSLayer: an argument is not UTF-8");
  auto f = dll_.proc<HandleStr2>("HcsSetupBaseOSLayer");
  if (!f.ok()) co_return f.status();
  auto call_task = blocking(loop_, [f = *f, &path, &opts, vhd] {
    return f(wide(*path), reinterpret_cast<HANDLE>(vhd), wide(*opts));
  });
  HRESULT hr = co_await std::move(call_task);
  co_return FAILED(hr) ? failed(hr, "HcsSetupBaseOSLayer", layerPath) : OkStatus();
}

Task<Status> ComputeStorage::formatWritableLayerVhd(uintptr_t vhd) {
  auto f = dll_.proc<HandleOnly>("HcsFormatWritableLayerVhd");
  if (!f.ok()) co_return f.status();
  auto call_task = blocking(loop_, [f = *f, vhd] { return f(reinterpret_cast<HANDLE>(vhd)); });
  HRESULT hr = co_await std::move(call_task);
  co_return FAILED(hr) ? failed(hr, "HcsFormatWritableLayerVhd", "") : OkStatus();
}

Task<StatusOr<std::string>> ComputeStorage::getLayerVhdMountPath(uintptr_t vhd) {
  auto f = dll_.proc<HandleOut>("HcsGetLayerVhdMountPath");
  if (!f.ok()) co_return f.status();
  struct Out {
    HRESULT hr = S_OK;
    PWSTR path = nullptr;
  };
  auto call_task = blocking(loop_, [f = *f, vhd] {
    Out o;
    o.hr = f(reinterpret_cast<HANDLE>(vhd), &o.path);
    return o;
  });
  Out o = co_await std::move(call_task);
  StatusOr<std::string> text = std::string();
  if (o.path) {
    text = fromUtf16z(reinterpret_cast<const char16_t*>(o.path));
    CoTaskMemFree(o.path);
  }
  if (FAILED(o.hr)) co_return failed(o.hr, "HcsGetLayerVhdMountPath", "");
  if (!text.ok()) co_return InvalidArgumentError("HcsGetLayerVhdMountPath: the mount path is not UTF-16: " + text.status().message());
  if (text->empty()) co_return InternalError("HcsGetLayerVhdMountPath succeeded without a mount path");
  co_return *text;
}

}  // namespace hcsshim::platforms::windows
