// The stand-in vmcompute.dll (test-only): only HNSCall, the HNS v1 call
// hcsshim takes from it, forwarded to the fake HNS (link.h). The response
// is HNS v1's {"Success":..., "Error":..., "Output":...} document, which
// the fake builds; a failure to reach the service is its HRESULT.
#include <windows.h>

#include <objbase.h>

#include "platforms/windows/standin/link.h"
#include "src/common/json.h"

extern "C" __declspec(dllexport) HRESULT WINAPI HNSCall(PCWSTR method, PCWSTR path, PCWSTR request, PWSTR* response) {
  if (!response) return static_cast<HRESULT>(0x80070057);
  *response = nullptr;
  hcsshim::Json a = hcsshim::standin::call(
      hcsshim::Json{{"call", "hns.call"}, {"method", hcsshim::standin::utf8(method)}, {"path", hcsshim::standin::utf8(path)}, {"document", hcsshim::standin::utf8(request)}});
  auto hr = static_cast<HRESULT>(a.value("hresult", uint64_t{0x80004005}));
  if (FAILED(hr)) return hr;
  *response = hcsshim::standin::taskString(a.value("document", std::string()));
  return *response ? S_OK : E_OUTOFMEMORY;
}
