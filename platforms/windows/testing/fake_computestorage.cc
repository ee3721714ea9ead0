// A stand-in computestorage.dll (test-only) that does on the file system
// what the real one does to layers, enough to check the binding: import
// copies a folder's files into the layer and keeps its LayerData; destroy
// removes the layer; the storage filter is a marker file; the VHD calls know
// one handle (0x1234). Errors are the Win32 ones the real DLL gives as
// HRESULTs. HcsSetupBaseOSLayer is not exported (a missing export).
#include <windows.h>

#include <objbase.h>

#include <cstring>
#include <cwchar>
#include <string>

#define EXPORT extern "C" __declspec(dllexport)

namespace {

HRESULT lastError() { return HRESULT_FROM_WIN32(GetLastError()); }

bool isDir(const wchar_t* p) {
  DWORD a = GetFileAttributesW(p);
  return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

HRESULT writeText(const std::wstring& path, const wchar_t* text) {
  HANDLE h = CreateFileW(path.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return lastError();
  DWORD n = 0;
  std::wstring t = text ? text : L"";
  BOOL ok = WriteFile(h, t.data(), static_cast<DWORD>(t.size() * sizeof(wchar_t)), &n, nullptr);
  CloseHandle(h);
  return ok ? S_OK : lastError();
}

// copyFiles: the files (not folders) of `from` into `to`.
HRESULT copyFiles(const std::wstring& from, const std::wstring& to) {
  WIN32_FIND_DATAW fd;
  HANDLE f = FindFirstFileW((from + L"\\*").c_str(), &fd);
  if (f == INVALID_HANDLE_VALUE) return GetLastError() == ERROR_FILE_NOT_FOUND ? S_OK : lastError();  // empty
  HRESULT hr = S_OK;
  do {
    if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) continue;
    if (!CopyFileW((from + L"\\" + fd.cFileName).c_str(), (to + L"\\" + fd.cFileName).c_str(), FALSE)) hr = lastError();
  } while (SUCCEEDED(hr) && FindNextFileW(f, &fd));
  FindClose(f);
  return hr;
}

HRESULT removeTree(const std::wstring& dir) {
  WIN32_FIND_DATAW fd;
  HANDLE f = FindFirstFileW((dir + L"\\*").c_str(), &fd);
  if (f != INVALID_HANDLE_VALUE) {
    do {
      std::wstring name = fd.cFileName;
      if (name == L"." || name == L"..") continue;
      std::wstring p = dir + L"\\" + name;
      if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        removeTree(p);
      } else {
        DeleteFileW(p.c_str());
      }
    } while (FindNextFileW(f, &fd));
    FindClose(f);
  }
  return RemoveDirectoryW(dir.c_str()) ? S_OK : lastError();
}

const HANDLE kKnownVhd = reinterpret_cast<HANDLE>(0x1234);

}  // namespace

EXPORT HRESULT WINAPI HcsImportLayer(PCWSTR layerPath, PCWSTR sourceFolder, PCWSTR layerData) {
  if (!layerPath || !sourceFolder || !layerData) return E_INVALIDARG;
  if (!isDir(sourceFolder)) return HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND);
  if (!CreateDirectoryW(layerPath, nullptr)) return lastError();
  HRESULT hr = copyFiles(sourceFolder, layerPath);
  if (SUCCEEDED(hr)) hr = writeText(std::wstring(layerPath) + L"\\layerdata.json", layerData);
  return hr;
}

EXPORT HRESULT WINAPI HcsExportLayer(PCWSTR layerPath, PCWSTR exportFolder, PCWSTR layerData, PCWSTR options) {
  if (!layerPath || !exportFolder || !layerData) return E_INVALIDARG;
  if (!isDir(layerPath)) return HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND);
  if (!CreateDirectoryW(exportFolder, nullptr) && GetLastError() != ERROR_ALREADY_EXISTS) return lastError();
  HRESULT hr = copyFiles(layerPath, exportFolder);
  if (SUCCEEDED(hr)) hr = writeText(std::wstring(exportFolder) + L"\\options.json", options);
  return hr;
}

EXPORT HRESULT WINAPI HcsDestroyLayer(PCWSTR layerPath) {
  if (!layerPath) return E_INVALIDARG;
  if (!isDir(layerPath)) return HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND);
  return removeTree(layerPath);
}

EXPORT HRESULT WINAPI HcsInitializeWritableLayer(PCWSTR path, PCWSTR layerData, PCWSTR) {
  if (!path || !layerData) return E_INVALIDARG;
  if (!CreateDirectoryW(path, nullptr)) return lastError();
  return writeText(std::wstring(path) + L"\\layerdata.json", layerData);
}

EXPORT HRESULT WINAPI HcsAttachLayerStorageFilter(PCWSTR layerPath, PCWSTR layerData) {
  if (!layerPath || !layerData) return E_INVALIDARG;
  if (!isDir(layerPath)) return HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND);
  std::wstring marker = std::wstring(layerPath) + L"\\filter.attached";
  if (GetFileAttributesW(marker.c_str()) != INVALID_FILE_ATTRIBUTES) return HRESULT_FROM_WIN32(ERROR_ALREADY_EXISTS);
  return writeText(marker, layerData);
}

EXPORT HRESULT WINAPI HcsDetachLayerStorageFilter(PCWSTR layerPath) {
  if (!layerPath) return E_INVALIDARG;
  std::wstring marker = std::wstring(layerPath) + L"\\filter.attached";
  return DeleteFileW(marker.c_str()) ? S_OK : HRESULT_FROM_WIN32(ERROR_NOT_FOUND);
}

EXPORT HRESULT WINAPI HcsSetupBaseOSVolume(PCWSTR, PCWSTR, PCWSTR) { return E_NOTIMPL; }

EXPORT HRESULT WINAPI HcsFormatWritableLayerVhd(HANDLE vhd) { return vhd == kKnownVhd ? S_OK : E_HANDLE; }

EXPORT HRESULT WINAPI HcsGetLayerVhdMountPath(HANDLE vhd, PWSTR* mountPath) {
  if (!mountPath) return E_POINTER;
  *mountPath = nullptr;
  if (vhd != kKnownVhd) return E_HANDLE;
  static const wchar_t kPath[] = L"\\\\?\\Volume{0b6d4a8e-1c2f-4e3a-8b9c-7d6e5f4a3b21}\\";
  *mountPath = static_cast<PWSTR>(CoTaskMemAlloc(sizeof kPath));
  std::memcpy(*mountPath, kPath, sizeof kPath);
  return S_OK;
}
