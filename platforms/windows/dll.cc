#include "platforms/windows/dll.h"

#include "src/common/utf16.h"

namespace hcsshim::platforms::windows {

namespace {

std::string describe(DWORD code) {
  switch (code) {
    case ERROR_MOD_NOT_FOUND: return "the module was not found";
    case ERROR_PROC_NOT_FOUND: return "the procedure was not found";
    case ERROR_BAD_EXE_FORMAT: return "not a valid image for this machine";
    case ERROR_ACCESS_DENIED: return "access is denied";
    default: return "Win32 error";
  }
}

}  // namespace

Status win32Error(DWORD code, const std::string& what) {
  HResult hr = code == 0 ? hresult::kFail : hresult::fromWin32(code);
  return Status::withCode(Code::kUnavailable, hr, "", "", what + ": error " + std::to_string(code) + " (" + describe(code) + ")");
}

std::string Dll::name() const {
  auto n = fromUtf16(std::u16string_view(reinterpret_cast<const char16_t*>(name_.data()), name_.size()));
  return n.ok() ? *n : std::string("?");
}

// A loaded DLL stays loaded for the life of the process (as hcsshim's lazy
// DLLs do): HCS can still call a callback, or a DLL thread still run, after
// its client is gone - unloading the code under them crashes the process.
Dll::~Dll() = default;

Status Dll::loaded() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!module_ && loadError_ == 0) {
    module_ = LoadLibraryExW(name_.c_str(), nullptr, LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (!module_) loadError_ = GetLastError() ? GetLastError() : ERROR_MOD_NOT_FOUND;
  }
  if (module_) return OkStatus();
  return win32Error(loadError_, name() + " could not be loaded");
}

StatusOr<FARPROC> Dll::address(const char* proc) {
  HCS_RETURN_IF_ERROR(loaded());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(proc);
  if (it != procs_.end()) return it->second;
  FARPROC p = GetProcAddress(module_, proc);
  if (!p) {
    return win32Error(ERROR_PROC_NOT_FOUND, name() + " has no export " + proc);
  }
  procs_[proc] = p;
  return p;
}

}  // namespace hcsshim::platforms::windows
