// A hostile computecore.dll (test-only): what ComputeCoreHcs must survive
// from a broken or unexpected HCS - result documents that are not JSON or
// not UTF-16, HRESULTs no table names, a callback after its handle was
// closed, and a missing export (HcsStartComputeSystem is not exported).
// The query of HcsEnumerateComputeSystems picks the misbehaviour.
#include <windows.h>

#include <objbase.h>
// clang-format off
#include <computecore.h>
// clang-format on

#include <cstring>
#include <string>

#include "platforms/windows/win_thread.h"

#define EXPORT extern "C" __declspec(dllexport)

namespace {

struct Op {
  HRESULT hr = S_OK;
  std::u16string doc;
  bool hasDoc = false;
};

PWSTR give(const std::u16string& s) {
  auto* out = static_cast<wchar_t*>(CoTaskMemAlloc((s.size() + 1) * sizeof(wchar_t)));
  std::memcpy(out, s.data(), s.size() * sizeof(wchar_t));
  out[s.size()] = 0;
  return out;
}

struct System {
  HCS_EVENT_CALLBACK cb = nullptr;
  void* ctx = nullptr;
};

}  // namespace

EXPORT HCS_OPERATION WINAPI HcsCreateOperation(const void*, HCS_OPERATION_COMPLETION) {
  return reinterpret_cast<HCS_OPERATION>(new Op);
}
EXPORT void WINAPI HcsCloseOperation(HCS_OPERATION op) { delete reinterpret_cast<Op*>(op); }
EXPORT HRESULT WINAPI HcsGetOperationResult(HCS_OPERATION op, PWSTR* doc) {
  auto* o = reinterpret_cast<Op*>(op);
  *doc = o->hasDoc ? give(o->doc) : nullptr;
  return o->hr;
}
EXPORT HRESULT WINAPI HcsWaitForOperationResult(HCS_OPERATION op, DWORD, PWSTR* doc) { return HcsGetOperationResult(op, doc); }
EXPORT HRESULT WINAPI HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION op, DWORD, HCS_PROCESS_INFORMATION* info,
                                                              PWSTR* doc) {
  if (info) *info = HCS_PROCESS_INFORMATION{};
  return HcsGetOperationResult(op, doc);
}

EXPORT HRESULT WINAPI HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION op) {
  auto* o = reinterpret_cast<Op*>(op);
  std::u16string q = query ? reinterpret_cast<const char16_t*>(query) : u"";
  o->hasDoc = true;
  if (q == u"not-json") {
    o->hr = static_cast<HRESULT>(0x80370105);  // a known failure, its document not JSON
    o->doc = u"{\"Error\": oops";
  } else if (q == u"unknown-hresult") {
    o->hr = static_cast<HRESULT>(0x8BADF00D);  // named by no table
    o->hasDoc = false;
  } else if (q == u"not-utf16") {
    o->hr = S_OK;
    o->doc = u"[\"";
    o->doc.push_back(static_cast<char16_t>(0xD800));  // a lone surrogate
    o->doc += u"\"]";
  } else if (q == u"success-with-error") {
    o->hr = S_OK;  // a result document that says it failed
    o->doc = u"{\"Error\":-2143878898,\"ErrorMessage\":\"says it failed\"}";
  } else {
    o->doc = u"[]";
  }
  return S_OK;
}

EXPORT HRESULT WINAPI HcsOpenComputeSystem(PCWSTR, DWORD, HCS_SYSTEM* system) {
  *system = reinterpret_cast<HCS_SYSTEM>(new System);
  return S_OK;
}

EXPORT HRESULT WINAPI HcsSetComputeSystemCallback(HCS_SYSTEM system, HCS_EVENT_OPTIONS, const void* ctx,
                                                  HCS_EVENT_CALLBACK cb) {
  auto* s = reinterpret_cast<System*>(system);
  s->cb = cb;
  s->ctx = const_cast<void*>(ctx);
  return S_OK;
}

// Close - then, from another thread, a SystemExited for the closed handle
// (HCS may deliver one that was already on its way).
EXPORT void WINAPI HcsCloseComputeSystem(HCS_SYSTEM system) {
  auto* s = reinterpret_cast<System*>(system);
  HCS_EVENT_CALLBACK cb = s->cb;
  void* ctx = s->ctx;
  delete s;
  if (!cb) return;
  (void)hcsshim::platforms::windows::startThread([cb, ctx] {
    ::Sleep(20);
    static const wchar_t data[] = L"{\"ExitType\":\"ForcedExit\",\"Status\":0}";
    HCS_EVENT e{};
    e.Type = HcsEventSystemExited;
    e.EventData = data;
    cb(&e, ctx);
  });
}
