#include "platforms/windows/computenetwork_hns.h"

#include <objbase.h>

#include <cstring>

#include "platforms/windows/blocking.h"
#include "src/common/guid.h"
#include "src/common/json.h"
#include "src/common/utf16.h"
#include "src/schema/hcs.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

namespace {

// The HCN export shapes (one per verb; every object type has the same ones,
// except HcnCreateEndpoint, which takes its network's handle first).
using EnumerateFn = HRESULT(WINAPI*)(PCWSTR query, PWSTR* list, PWSTR* record);
using CreateFn = HRESULT(WINAPI*)(const GUID* id, PCWSTR settings, void** handle, PWSTR* record);
using CreateEndpointFn = HRESULT(WINAPI*)(void* network, const GUID* id, PCWSTR settings, void** handle, PWSTR* record);
using OpenFn = HRESULT(WINAPI*)(const GUID* id, void** handle, PWSTR* record);
using ModifyFn = HRESULT(WINAPI*)(void* handle, PCWSTR settings, PWSTR* record);
using QueryFn = HRESULT(WINAPI*)(void* handle, PCWSTR query, PWSTR* properties, PWSTR* record);
using DeleteFn = HRESULT(WINAPI*)(const GUID* id, PWSTR* record);
using CloseFn = HRESULT(WINAPI*)(void* handle);
using HnsCallFn = HRESULT(WINAPI*)(PCWSTR method, PCWSTR path, PCWSTR request, PWSTR* response);

std::string plural(hns::HcnObject t) {
  std::string n = hns::objectName(t);
  return t == hns::HcnObject::kRoute ? "SdnRoutes" : n + "s";
}

std::string taken(PWSTR s) {
  if (!s) return "";
  auto text = fromUtf16z(reinterpret_cast<const char16_t*>(s));
  CoTaskMemFree(s);
  return text.ok() ? *text : std::string("<not UTF-16: ") + text.status().message() + ">";
}

const wchar_t* wide(const std::u16string& s) { return s.empty() ? nullptr : reinterpret_cast<const wchar_t*>(s.c_str()); }

StatusOr<GUID> guidOf(const std::string& id, const std::string& op) {
  auto g = Guid::parse(id);
  if (!g.ok()) return InvalidArgumentError(op + ": \"" + id + "\" is not a GUID");
  GUID out;
  auto bytes = g->toBytesLE();
  static_assert(sizeof(GUID) == 16);
  std::memcpy(&out, bytes.data(), 16);
  return out;
}

// Outcome: what an HCN call gave back.
struct Outcome {
  HRESULT hr = S_OK;
  std::string result, record;
};

Status failure(const Outcome& o, const std::string& op, const std::string& id) {
  if (SUCCEEDED(o.hr) && o.record.empty()) return OkStatus();
  HResult hr = FAILED(o.hr) ? static_cast<HResult>(o.hr) : hresult::kFail;  // an error record with S_OK fails too
  return schema::statusFromResult(hr, o.record, op, id);
}

}  // namespace

struct ComputeNetworkHns::State {
  explicit State(runtime::EventLoop& l) : loop(l) {}
  runtime::EventLoop& loop;
  Dll hcn{L"computenetwork.dll"};
  Dll vmcompute{L"vmcompute.dll"};
};

ComputeNetworkHns::ComputeNetworkHns(runtime::EventLoop& loop) : s_(std::make_shared<State>(loop)) {}
ComputeNetworkHns::~ComputeNetworkHns() = default;

#define HNS_WIDE(var, text, op, id)                                       \
  auto var##_w = toUtf16(text);                                           \
  if (!var##_w.ok()) co_return var##_w.status().withContext(op, id);      \
  std::u16string var = std::move(*var##_w)

Task<StatusOr<std::string>> ComputeNetworkHns::enumerate(hns::HcnObject type, std::string query) {
  const std::string fn = "HcnEnumerate" + plural(type);
  HNS_WIDE(q, query, fn, "");
  auto f = s_->hcn.proc<EnumerateFn>(fn.c_str());
  if (!f.ok()) co_return f.status().withContext(fn, "");
  EnumerateFn call = *f;
  // (A named awaiter: GCC 12 destroys a co_await operand temporary twice.)
  auto call_o = blocking(s_->loop, [call, q] {
    Outcome r;
    PWSTR list = nullptr, record = nullptr;
    r.hr = call(wide(q), &list, &record);
    r.result = taken(list);
    r.record = taken(record);
    return r;
  });
  Outcome o = co_await call_o;
  HCS_CO_RETURN_IF_ERROR(failure(o, fn, ""));
  co_return o.result.empty() ? std::string("[]") : o.result;
}

Task<StatusOr<std::string>> ComputeNetworkHns::create(hns::HcnObject type, std::string id, std::string network,
                                                      std::string settings) {
  const std::string name = hns::objectName(type);
  const std::string fn = "HcnCreate" + (type == hns::HcnObject::kRoute ? std::string("SdnRoute") : name);
  HNS_WIDE(doc, settings, fn, id);
  GUID gid{};  // the nil GUID: HCN assigns one
  if (!id.empty()) {
    auto g = guidOf(id, fn);
    if (!g.ok()) co_return g.status();
    gid = *g;
  }
  auto query = s_->hcn.proc<QueryFn>(("HcnQuery" + name + "Properties").c_str());
  auto close = s_->hcn.proc<CloseFn>(("HcnClose" + name).c_str());
  if (!query.ok()) co_return query.status().withContext(fn, id);
  if (!close.ok()) co_return close.status().withContext(fn, id);
  QueryFn q = *query;
  CloseFn c = *close;
  std::function<Outcome()> work;
  if (type == hns::HcnObject::kEndpoint) {
    auto g = guidOf(network, fn);
    if (!g.ok()) co_return g.status();
    auto open = s_->hcn.proc<OpenFn>("HcnOpenNetwork");
    auto closeNet = s_->hcn.proc<CloseFn>("HcnCloseNetwork");
    auto f = s_->hcn.proc<CreateEndpointFn>(fn.c_str());
    for (const Status& st : {open.status(), closeNet.status(), f.status()}) {
      if (!st.ok()) co_return st.withContext(fn, id);
    }
    work = [o = *open, cn = *closeNet, f = *f, q, c, netId = *g, gid, doc] {
      Outcome r;
      void* net = nullptr;
      PWSTR record = nullptr;
      r.hr = o(&netId, &net, &record);
      r.record = taken(record);
      if (FAILED(r.hr) || !r.record.empty()) return r;
      void* ep = nullptr;
      r.hr = f(net, &gid, wide(doc), &ep, &record);
      r.record = taken(record);
      if (SUCCEEDED(r.hr) && r.record.empty()) {
        PWSTR props = nullptr;
        r.hr = q(ep, nullptr, &props, &record);
        r.result = taken(props);
        r.record = taken(record);
      }
      if (ep) c(ep);
      cn(net);
      return r;
    };
  } else {
    auto f = s_->hcn.proc<CreateFn>(fn.c_str());
    if (!f.ok()) co_return f.status().withContext(fn, id);
    work = [f = *f, q, c, gid, doc] {
      Outcome r;
      void* h = nullptr;
      PWSTR record = nullptr;
      r.hr = f(&gid, wide(doc), &h, &record);
      r.record = taken(record);
      if (SUCCEEDED(r.hr) && r.record.empty()) {
        PWSTR props = nullptr;
        r.hr = q(h, nullptr, &props, &record);
        r.result = taken(props);
        r.record = taken(record);
      }
      if (h) c(h);
      return r;
    };
  }
  // (A named awaiter: GCC 12 destroys a co_await operand temporary twice.)
  auto call_o = blocking(s_->loop, work);
  Outcome o = co_await call_o;
  HCS_CO_RETURN_IF_ERROR(failure(o, fn, id));
  co_return o.result;
}

namespace {

// withOpen: HcnOpen<K>(id), then `use` on the handle, then HcnClose<K>.
Task<StatusOr<Outcome>> withOpen(runtime::EventLoop& loop, Dll& hcn, hns::HcnObject type, const std::string& id,
                                 const std::string& fn, std::function<Outcome(void*)> use) {
  const std::string name = type == hns::HcnObject::kRoute ? std::string("SdnRoute") : hns::objectName(type);
  auto g = guidOf(id, fn);
  if (!g.ok()) co_return g.status();
  auto open = hcn.proc<OpenFn>(("HcnOpen" + name).c_str());
  auto close = hcn.proc<CloseFn>(("HcnClose" + name).c_str());
  if (!open.ok()) co_return open.status().withContext(fn, id);
  if (!close.ok()) co_return close.status().withContext(fn, id);
  // (A named awaiter: GCC 12 destroys a co_await operand temporary twice.)
  auto call_o = blocking(loop, [o = *open, c = *close, gid = *g, use] {
    Outcome r;
    void* h = nullptr;
    PWSTR record = nullptr;
    r.hr = o(&gid, &h, &record);
    r.record = taken(record);
    if (FAILED(r.hr) || !r.record.empty()) return r;
    r = use(h);
    c(h);
    return r;
  });
  Outcome o = co_await call_o;
  co_return o;
}

}  // namespace

Task<StatusOr<std::string>> ComputeNetworkHns::query(hns::HcnObject type, std::string id, std::string query) {
  const std::string name = type == hns::HcnObject::kRoute ? std::string("SdnRoute") : hns::objectName(type);
  const std::string fn = "HcnQuery" + name + "Properties";
  HNS_WIDE(q, query, fn, id);
  auto f = s_->hcn.proc<QueryFn>(fn.c_str());
  if (!f.ok()) co_return f.status().withContext(fn, id);
  auto o_task = withOpen(s_->loop, s_->hcn, type, id, fn, [f = *f, q](void* h) {
    Outcome r;
    PWSTR props = nullptr, record = nullptr;
    r.hr = f(h, wide(q), &props, &record);
    r.result = taken(props);
    r.record = taken(record);
    return r;
  });  // (no temporaries in a co_await: GCC 12)
  auto o = co_await std::move(o_task);
  if (!o.ok()) co_return o.status();
  HCS_CO_RETURN_IF_ERROR(failure(*o, fn, id));
  co_return o->result;
}

Task<Status> ComputeNetworkHns::modify(hns::HcnObject type, std::string id, std::string settings) {
  const std::string name = type == hns::HcnObject::kRoute ? std::string("SdnRoute") : hns::objectName(type);
  const std::string fn = "HcnModify" + name;
  HNS_WIDE(doc, settings, fn, id);
  auto f = s_->hcn.proc<ModifyFn>(fn.c_str());
  if (!f.ok()) co_return f.status().withContext(fn, id);
  auto o_task = withOpen(s_->loop, s_->hcn, type, id, fn, [f = *f, doc](void* h) {
    Outcome r;
    PWSTR record = nullptr;
    r.hr = f(h, wide(doc), &record);
    r.record = taken(record);
    return r;
  });  // (no temporaries in a co_await: GCC 12)
  auto o = co_await std::move(o_task);
  if (!o.ok()) co_return o.status();
  co_return failure(*o, fn, id);
}

Task<Status> ComputeNetworkHns::remove(hns::HcnObject type, std::string id) {
  const std::string name = type == hns::HcnObject::kRoute ? std::string("SdnRoute") : hns::objectName(type);
  const std::string fn = "HcnDelete" + name;
  auto g = guidOf(id, fn);
  if (!g.ok()) co_return g.status();
  auto f = s_->hcn.proc<DeleteFn>(fn.c_str());
  if (!f.ok()) co_return f.status().withContext(fn, id);
  // (A named awaiter: GCC 12 destroys a co_await operand temporary twice.)
  auto call_o = blocking(s_->loop, [f = *f, gid = *g] {
    Outcome r;
    PWSTR record = nullptr;
    r.hr = f(&gid, &record);
    r.record = taken(record);
    return r;
  });
  Outcome o = co_await call_o;
  co_return failure(o, fn, id);
}

Task<StatusOr<std::string>> ComputeNetworkHns::hnsCall(std::string method, std::string path, std::string request) {
  const std::string what = method + " " + path;
  HNS_WIDE(m, method, "HNSCall", what);
  HNS_WIDE(p, path, "HNSCall", what);
  HNS_WIDE(body, request, "HNSCall", what);
  auto f = s_->vmcompute.proc<HnsCallFn>("HNSCall");
  if (!f.ok()) co_return f.status().withContext("HNSCall", what);
  // (A named awaiter: GCC 12 destroys a co_await operand temporary twice.)
  auto call_o = blocking(s_->loop, [f = *f, m, p, body] {
    Outcome r;
    PWSTR response = nullptr;
    r.hr = f(wide(m), wide(p), body.empty() ? L"" : wide(body), &response);
    r.result = taken(response);
    return r;
  });
  Outcome o = co_await call_o;
  if (FAILED(o.hr)) co_return schema::statusFromResult(static_cast<HResult>(o.hr), o.result, "HNSCall", what);
  auto doc = parseJson(o.result);
  if (!doc.ok() || !doc->is_object()) {
    co_return Status::fromHResult(hresult::kFail, "HNSCall", what, "HNS answered what is not a v1 response: " + o.result);
  }
  bool success = doc->contains("Success") && (*doc)["Success"].is_boolean() && (*doc)["Success"].get<bool>();
  if (!success) {
    std::string error = doc->contains("Error") && (*doc)["Error"].is_string() ? (*doc)["Error"].get<std::string>() : o.result;
    co_return Status::fromHResult(hresult::kFail, "HNSCall", what, error);
  }
  co_return doc->contains("Output") ? (*doc)["Output"].dump() : std::string("null");
}

}  // namespace hcsshim::platforms::windows
