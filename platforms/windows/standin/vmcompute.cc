// The stand-in vmcompute.dll (test-only): only HNSCall, the HNS v1 call
// hcsshim takes from it, forwarded to the fake HNS (link.h). The response
// is HNS v1's {"Success":..., "Error":..., "Output":...} document around
// what the fake answered (S_OK even when the request failed, as HNS does);
// a failure to reach the service is its HRESULT.
#include <windows.h>

#include <objbase.h>

#include "platforms/windows/standin/link.h"
#include "src/common/json.h"

STANDIN_EXPORT HRESULT WINAPI HNSCall(PCWSTR method, PCWSTR path, PCWSTR request, PWSTR* response) {
  if (!response) return hcsshim::standin::kInvalidArg;
  *response = nullptr;
  hcsshim::Json a = hcsshim::standin::call(
      hcsshim::Json{{"call", "hns.call"}, {"method", hcsshim::standin::utf8(method)}, {"path", hcsshim::standin::utf8(path)}, {"document", hcsshim::standin::utf8(request)}});
  auto hr = static_cast<HRESULT>(a.value("hresult", uint64_t{0x80004005}));
  if (hr == hcsshim::standin::kServiceNotAvailable) return hr;  // HNS unreachable: the call itself fails
  // HNS answers every request it could read with a v1 response.
  std::string doc = a.value("document", std::string());
  hcsshim::Json v1;
  if (FAILED(hr)) {
    auto err = hcsshim::parseJson(doc);
    v1 = {{"Success", false},
          {"Error", err.ok() && err->is_object() ? err->value("ErrorMessage", doc) : doc}};
  } else {
    auto out = hcsshim::parseJson(doc);
    v1 = {{"Success", true}, {"Output", out.ok() ? *out : hcsshim::Json(doc)}};
  }
  *response = hcsshim::standin::taskString(hcsshim::jsonText(v1));
  return *response ? S_OK : E_OUTOFMEMORY;
}
