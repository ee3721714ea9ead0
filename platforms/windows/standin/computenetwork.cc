// The stand-in computenetwork.dll (test-only): the HCN API of
// computenetwork.h (and the SdnRoute calls it leaves out), each call
// forwarded to the fake HNS behind the daemon's stand-in service (link.h).
//
// What it keeps of HCN: objects named by GUID; Create/Open give a handle
// that Query/Modify/Close use and Delete does not need; a failure returns
// its HRESULT and an error record (CoTaskMemAlloc'd JSON the caller frees);
// Create with GUID_NULL lets HNS choose the id. A handle that is not ours
// is E_HANDLE. The service and guest-network-service callbacks are not
// carried (not exported).
#include <windows.h>

#include <objbase.h>
// clang-format off
#include <computenetwork.h>
// clang-format on

#include <map>
#include <memory>
#include <mutex>

#include "platforms/windows/standin/link.h"
#include "src/common/guid.h"
#include "src/common/json.h"
#include "src/common/utf16.h"

namespace {

using hcsshim::Json;
namespace standin = hcsshim::standin;

using standin::kInvalidArg;
using standin::kInvalidHandle;

// hns::HcnObject's numbers (the service's "object").
enum Object { kNetwork = 0, kEndpoint = 1, kNamespace = 2, kLoadBalancer = 3, kRoute = 4 };

std::string guidText(const GUID* g) {
  if (!g) return "";
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), g, 16);
  if (bytes == std::array<uint8_t, 16>{}) return "";  // GUID_NULL: HNS picks
  return hcsshim::Guid::fromBytesLE(bytes).toString();
}

// answer: the HRESULT of a service answer; its error record, or `out` its document.
HRESULT answer(const Json& a, PWSTR* record, PWSTR* out = nullptr, std::string* doc = nullptr) {
  if (record) *record = nullptr;
  if (out) *out = nullptr;
  auto hr = static_cast<HRESULT>(a.value("hresult", uint64_t{0x80004005}));
  std::string d = a.value("document", std::string());
  if (FAILED(hr)) {
    if (record && !d.empty()) *record = standin::taskString(d);
    return hr;
  }
  if (out) *out = standin::taskString(d);
  if (doc) *doc = d;
  return hr;
}

struct Handle {
  Object object;
  std::string id;
};
std::mutex gMu;
std::map<void*, std::unique_ptr<Handle>> gHandles;

void* newHandle(Object object, std::string id) {
  auto h = std::make_unique<Handle>(Handle{object, std::move(id)});
  void* key = h.get();
  std::lock_guard<std::mutex> lock(gMu);
  gHandles[key] = std::move(h);
  return key;
}
bool find(void* h, Object object, Handle& out) {
  std::lock_guard<std::mutex> lock(gMu);
  auto it = gHandles.find(h);
  if (it == gHandles.end() || it->second->object != object) return false;
  out = *it->second;
  return true;
}

HRESULT enumerate(Object object, PCWSTR query, PWSTR* list, PWSTR* record) {
  if (!list) return kInvalidArg;
  return answer(standin::call(Json{{"call", "hcn.enumerate"}, {"object", object}, {"document", standin::utf8(query)}}), record, list);
}

HRESULT create(Object object, const GUID* id, const std::string& network, PCWSTR settings, void** handle, PWSTR* record) {
  if (!handle) return kInvalidArg;
  *handle = nullptr;
  std::string doc;
  HRESULT hr = answer(standin::call(Json{{"call", "hcn.create"}, {"object", object}, {"id", guidText(id)},
                                         {"network", network}, {"document", standin::utf8(settings)}}),
                      record, nullptr, &doc);
  if (FAILED(hr)) return hr;
  auto parsed = hcsshim::parseJson(doc);
  std::string created = parsed.ok() && parsed->is_object() ? parsed->value("ID", guidText(id)) : guidText(id);
  *handle = newHandle(object, created);
  return hr;
}

HRESULT open(Object object, const GUID* id, void** handle, PWSTR* record) {
  if (!handle || !id) return kInvalidArg;
  *handle = nullptr;
  HRESULT hr = answer(standin::call(Json{{"call", "hcn.query"}, {"object", object}, {"id", guidText(id)}, {"document", ""}}),
                      record);
  if (FAILED(hr)) return hr;
  *handle = newHandle(object, guidText(id));
  return hr;
}

HRESULT modify(Object object, void* handle, PCWSTR settings, PWSTR* record) {
  Handle h;
  if (!find(handle, object, h)) return kInvalidHandle;
  return answer(standin::call(Json{{"call", "hcn.modify"}, {"object", object}, {"id", h.id}, {"document", standin::utf8(settings)}}),
                record);
}

HRESULT query(Object object, void* handle, PCWSTR q, PWSTR* properties, PWSTR* record) {
  if (!properties) return kInvalidArg;
  Handle h;
  if (!find(handle, object, h)) return kInvalidHandle;
  return answer(standin::call(Json{{"call", "hcn.query"}, {"object", object}, {"id", h.id}, {"document", standin::utf8(q)}}),
                record, properties);
}

HRESULT remove(Object object, const GUID* id, PWSTR* record) {
  if (!id) return kInvalidArg;
  return answer(standin::call(Json{{"call", "hcn.delete"}, {"object", object}, {"id", guidText(id)}}), record);
}

HRESULT close(Object object, void* handle) {
  std::lock_guard<std::mutex> lock(gMu);
  auto it = gHandles.find(handle);
  if (it == gHandles.end() || it->second->object != object) return kInvalidHandle;
  gHandles.erase(it);
  return S_OK;
}

}  // namespace

// Every object type's seven calls (endpoints are created in a network).
#define HCN_OBJECT(Name, Plural, Type, object)                                                                    \
  STANDIN_EXPORT HRESULT WINAPI HcnEnumerate##Plural(PCWSTR q, PWSTR* list, PWSTR* record) {                             \
    return enumerate(object, q, list, record);                                                                    \
  }                                                                                                               \
  STANDIN_EXPORT HRESULT WINAPI HcnOpen##Name(REFGUID id, Type* h, PWSTR* record) {                                      \
    return open(object, &id, reinterpret_cast<void**>(h), record);                                                \
  }                                                                                                               \
  STANDIN_EXPORT HRESULT WINAPI HcnModify##Name(Type h, PCWSTR settings, PWSTR* record) {                                \
    return modify(object, h, settings, record);                                                                   \
  }                                                                                                               \
  STANDIN_EXPORT HRESULT WINAPI HcnQuery##Name##Properties(Type h, PCWSTR q, PWSTR* props, PWSTR* record) {              \
    return query(object, h, q, props, record);                                                                    \
  }                                                                                                               \
  STANDIN_EXPORT HRESULT WINAPI HcnDelete##Name(REFGUID id, PWSTR* record) { return remove(object, &id, record); }       \
  STANDIN_EXPORT HRESULT WINAPI HcnClose##Name(Type h) { return close(object, h); }

HCN_OBJECT(Network, Networks, HCN_NETWORK, kNetwork)
HCN_OBJECT(Endpoint, Endpoints, HCN_ENDPOINT, kEndpoint)
HCN_OBJECT(Namespace, Namespaces, HCN_NAMESPACE, kNamespace)
HCN_OBJECT(LoadBalancer, LoadBalancers, HCN_LOADBALANCER, kLoadBalancer)
HCN_OBJECT(SdnRoute, SdnRoutes, void*, kRoute)

STANDIN_EXPORT HRESULT WINAPI HcnCreateNetwork(REFGUID id, PCWSTR settings, PHCN_NETWORK h, PWSTR* record) {
  return create(kNetwork, &id, "", settings, reinterpret_cast<void**>(h), record);
}
STANDIN_EXPORT HRESULT WINAPI HcnCreateNamespace(REFGUID id, PCWSTR settings, PHCN_NAMESPACE h, PWSTR* record) {
  return create(kNamespace, &id, "", settings, reinterpret_cast<void**>(h), record);
}
STANDIN_EXPORT HRESULT WINAPI HcnCreateLoadBalancer(REFGUID id, PCWSTR settings, PHCN_LOADBALANCER h, PWSTR* record) {
  return create(kLoadBalancer, &id, "", settings, reinterpret_cast<void**>(h), record);
}
STANDIN_EXPORT HRESULT WINAPI HcnCreateSdnRoute(REFGUID id, PCWSTR settings, void** h, PWSTR* record) {
  return create(kRoute, &id, "", settings, h, record);
}
STANDIN_EXPORT HRESULT WINAPI HcnCreateEndpoint(HCN_NETWORK network, REFGUID id, PCWSTR settings, PHCN_ENDPOINT h,
                                        PWSTR* record) {
  Handle net;
  if (!find(network, kNetwork, net)) return kInvalidHandle;
  return create(kEndpoint, &id, net.id, settings, reinterpret_cast<void**>(h), record);
}
