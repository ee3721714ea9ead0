// dll.h: a Windows system DLL loaded at run time, its exports resolved at
// call time (as hcsshim does): a host without the DLL, or with an older one
// that lacks an export, gets a precise error from the call that needs it,
// never a failure to start.
//
//   Dll core(L"computecore.dll");
//   HCS_ASSIGN_OR_RETURN(auto create, core.proc<decltype(&HcsCreateOperation)>("HcsCreateOperation"));
//
// Errors (Unavailable, with the HRESULT of the Win32 error):
//   "computecore.dll could not be loaded: error 126 (the module was not found)"
//   "computecore.dll has no export HcsCreateOperation (error 127)"
#pragma once

#include <windows.h>

#include <map>
#include <mutex>
#include <string>

#include "src/common/status.h"

namespace hcsshim::platforms::windows {

// win32Error: a Win32 error code as a Status (the HRESULT is HRESULT_FROM_WIN32).
Status win32Error(DWORD code, const std::string& what);

class Dll {
 public:
  // name: a DLL under System32 (LOAD_LIBRARY_SEARCH_SYSTEM32 only). Loaded
  // on first use, never unloaded (HCS threads may still run in it).
  explicit Dll(std::wstring name) : name_(std::move(name)) {}
  ~Dll();
  Dll(const Dll&) = delete;
  Dll& operator=(const Dll&) = delete;

  // proc: the export `name` as function pointer type F.
  template <typename F>
  StatusOr<F> proc(const char* name) {
    auto p = address(name);
    if (!p.ok()) return p.status();
    return reinterpret_cast<F>(reinterpret_cast<void (*)()>(*p));
  }
  // loaded: whether the DLL is there (loading it if need be).
  Status loaded();
  std::string name() const;

 private:
  StatusOr<FARPROC> address(const char* name);

  std::wstring name_;
  std::mutex mu_;
  HMODULE module_ = nullptr;
  DWORD loadError_ = 0;
  std::map<std::string, FARPROC> procs_;
};

}  // namespace hcsshim::platforms::windows
