// The stand-in computecore.dll (test-only): the HCS operation API of
// computecore.h, every call forwarded to the fake HCS daemon (link.h), so a
// Windows program - our ComputeCoreHcs - runs under Wine against the fake's
// HCS semantics.
//
// What it keeps of HCS: operations (an HCS_OPERATION is started by one
// call and completes once - HcsWaitForOperationResult blocks until then or
// the timeout, HCS_E_OPERATION_TIMEOUT; HcsGetOperationResult before then
// is HCS_E_OPERATION_PENDING; a completion callback runs on a service
// thread); system and process handles returned at once by Create/Open,
// usable before the create completes; result documents and returned
// strings allocated with CoTaskMemAlloc (the caller frees them); callbacks
// on a service thread with the handle's context, none after close;
// ServiceDisconnect to every callback when the service goes away.
// Handles that are not ours get E_HANDLE. A process's stdio pipes are
// anonymous pipes relayed to the service's stdio ports (standin_service.h).
// Calls this stand-in does not carry (namespaces, crash, WER, file access,
// live migration) are not exported or answer E_NOTIMPL.
#include <windows.h>

#include <objbase.h>
// clang-format off
#include <computecore.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "platforms/windows/standin/link.h"
#include "platforms/windows/win_thread.h"
#include "src/common/json.h"
#include "src/common/utf16.h"

namespace {

using hcsshim::Json;
namespace standin = hcsshim::standin;

constexpr HRESULT kPending = static_cast<HRESULT>(0x80370117);
constexpr HRESULT kTimeout = static_cast<HRESULT>(0x80370118);
using standin::kInvalidArg;
using standin::kInvalidHandle;

HRESULT hresultOf(const Json& a) { return static_cast<HRESULT>(a.value("hresult", uint64_t{0x80004005})); }

// StdinRelay: a process's stdin relay thread, told to finish by a
// CloseHandle of StdIn (after what the caller wrote before it).
struct StdinRelay {
  std::atomic<bool> closing{false};
  std::atomic<bool> finished{false};
};

// Remote: a compute system or process of the service, behind a handle we hand out.
struct Remote {
  std::shared_ptr<StdinRelay> stdinRelay;  // a process with a stdin pipe
  bool process = false;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;        // the create/open answered
  HRESULT failed = S_OK;     // ... with this error
  uint64_t handle = 0;       // the service's number
  uint32_t pid = 0;
  HCS_EVENT_CALLBACK callback = nullptr;
  void* context = nullptr;

  // remote: the service's number once the create answered, or its error.
  HRESULT remote(uint64_t& out) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready; });
    out = handle;
    return failed;
  }
  void resolve(const Json& a) {
    std::lock_guard<std::mutex> lock(mu);
    failed = hresultOf(a);
    handle = a.value("handle", uint64_t{0});
    pid = static_cast<uint32_t>(a.value("pid", uint64_t{0}));
    ready = true;
    cv.notify_all();
  }
};

struct Operation {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, done = false;
  HRESULT hr = S_OK;
  std::string doc;
  const void* context = nullptr;
  HCS_OPERATION_COMPLETION completion = nullptr;
  HCS_OPERATION_TYPE type = HcsOperationTypeNone;
  Remote* system = nullptr;
  Remote* process = nullptr;
  uint32_t pid = 0;
  uint64_t id = 0;
  // The caller's ends of the process's stdio pipes, handed over once.
  HANDLE stdio[3] = {nullptr, nullptr, nullptr};
};

// pipeStdio: for each stdio port of a createProcess answer, an anonymous
// pipe whose far end a thread relays to the port's connection (stdin: pipe
// -> socket; stdout, stderr: socket -> pipe). The caller's ends go in `out`.
void pipeStdio(const Json& ports, HANDLE out[3], Remote* process) {
  const char* names[3] = {"in", "out", "err"};
  for (int i = 0; i < 3; ++i) {
    auto it = ports.find(names[i]);
    if (it == ports.end() || !it->is_number_unsigned()) continue;
    SOCKET sock = standin::openStdio(static_cast<uint16_t>(it->get<uint64_t>()));
    if (sock == INVALID_SOCKET) continue;
    HANDLE r, w;
    if (!CreatePipe(&r, &w, nullptr, 0)) {
      closesocket(sock);
      continue;
    }
    bool in = i == 0;
    out[i] = in ? w : r;
    HANDLE mine = in ? r : w;
    std::shared_ptr<StdinRelay> relay;
    if (in && process) relay = process->stdinRelay = std::make_shared<StdinRelay>();
    hcsshim::Status started = hcsshim::platforms::windows::startThread([sock, mine, in, relay] {
      char buf[16384];
      if (in) {
        // Polled, not a blocking read: a CloseHandle of StdIn ends the relay
        // once what was written before it has gone, though the caller still
        // holds its end of the pipe (hcsshim closes it after the call).
        for (;;) {
          DWORD avail = 0, n = 0;
          if (!PeekNamedPipe(mine, nullptr, 0, nullptr, &avail, nullptr)) break;  // the caller closed its end
          if (avail == 0) {
            if (relay && relay->closing) break;
            Sleep(2);
            continue;
          }
          if (!ReadFile(mine, buf, std::min<DWORD>(avail, sizeof buf), &n, nullptr) || n == 0) break;
          if (send(sock, buf, static_cast<int>(n), 0) != static_cast<int>(n)) break;
        }
        shutdown(sock, SD_SEND);
      } else {
        int n;
        while ((n = recv(sock, buf, sizeof buf, 0)) > 0) {
          DWORD wrote = 0;
          if (!WriteFile(mine, buf, static_cast<DWORD>(n), &wrote, nullptr)) break;
        }
      }
      CloseHandle(mine);
      closesocket(sock);
      if (relay) relay->finished = true;
    });
    if (!started.ok()) {
      if (relay) relay->finished = true;
      CloseHandle(mine);
      closesocket(sock);
    }
  }
}

// takeStdio: the caller's pipe ends into `info` (once).
void takeStdio(Operation& op, HCS_PROCESS_INFORMATION* info) {
  info->StdInput = op.stdio[0];
  info->StdOutput = op.stdio[1];
  info->StdError = op.stdio[2];
  op.stdio[0] = op.stdio[1] = op.stdio[2] = nullptr;
}

Operation* asOp(HCS_OPERATION h) { return reinterpret_cast<Operation*>(h); }

// The live handles (a handle not in here is not ours).
// (Shared: a call in flight keeps its operation alive past HcsCloseOperation -
// the service thread that completes it may still be unlocking its mutex.)
std::mutex gMu;
std::map<Operation*, std::shared_ptr<Operation>> gOperations;
std::map<Remote*, std::shared_ptr<Remote>> gRemotes;
uint64_t gNextOperationId = 1;

std::shared_ptr<Remote> findRemote(void* h, bool process) {
  std::lock_guard<std::mutex> lock(gMu);
  auto it = gRemotes.find(static_cast<Remote*>(h));
  if (it == gRemotes.end() || it->second->process != process) return nullptr;
  return it->second;
}

std::shared_ptr<Operation> findOperation(HCS_OPERATION op) {
  std::lock_guard<std::mutex> lock(gMu);
  auto it = gOperations.find(asOp(op));
  return it == gOperations.end() ? nullptr : it->second;
}
bool isOperation(HCS_OPERATION op) { return findOperation(op) != nullptr; }

void complete(const std::shared_ptr<Operation>& op, const Json& a) {
  HCS_OPERATION_COMPLETION cb;
  const void* ctx;
  {
    std::lock_guard<std::mutex> lock(op->mu);
    op->hr = hresultOf(a);
    op->doc = a.value("document", std::string());
    op->pid = static_cast<uint32_t>(a.value("pid", uint64_t{0}));
    if (SUCCEEDED(op->hr) && a.contains("stdio") && a["stdio"].is_object()) pipeStdio(a["stdio"], op->stdio, op->process);
    op->done = true;
    op->cv.notify_all();
    cb = op->completion;
    ctx = op->context;
  }
  if (cb) cb(reinterpret_cast<HCS_OPERATION>(op.get()), const_cast<void*>(ctx));
}

// start begins `op` with the request `req` (whose answer completes it).
HRESULT start(HCS_OPERATION handle, HCS_OPERATION_TYPE type, Json req, Remote* system = nullptr,
              Remote* process = nullptr, std::function<void(const Json&)> also = nullptr) {
  std::shared_ptr<Operation> op = findOperation(handle);
  if (!op) return kInvalidHandle;
  {
    std::lock_guard<std::mutex> lock(op->mu);
    if (op->started && !op->done) return kPending;
    op->started = true;
    op->done = false;
    op->type = type;
    op->system = system;
    op->process = process;
  }
  standin::request(std::move(req), [op, also](const Json& a) {
    if (also) also(a);
    complete(op, a);
  });
  return S_OK;
}

// onRemote: a call on a system or process handle, once its create answered.
HRESULT onRemote(void* h, bool process, HCS_OPERATION op, HCS_OPERATION_TYPE type, const char* verb, PCWSTR doc) {
  auto r = findRemote(h, process);
  if (!r) return kInvalidHandle;
  if (!isOperation(op)) return kInvalidHandle;
  uint64_t remote = 0;
  if (HRESULT hr = r->remote(remote); FAILED(hr)) return hr;
  Json req = {{"call", verb}, {"handle", remote}, {"document", standin::utf8(doc)}};
  return start(op, type, std::move(req), process ? nullptr : r.get(), process ? r.get() : nullptr);
}

void deliver(const Json& e) {
  uint64_t handle = e.value("handle", uint64_t{0});
  bool process = e.value("process", false);
  std::vector<std::shared_ptr<Remote>> targets;
  {
    std::lock_guard<std::mutex> lock(gMu);
    for (auto& [p, r] : gRemotes) {
      std::lock_guard<std::mutex> rl(r->mu);
      if (r->ready && r->process == process && r->handle == handle && r->callback) targets.push_back(r);
    }
  }
  auto data = hcsshim::toUtf16(e.value("data", std::string()));
  std::u16string text = data.ok() ? *data : u"";
  for (auto& r : targets) {
    HCS_EVENT ev{};
    ev.Type = static_cast<HCS_EVENT_TYPE>(e.value("type", uint64_t{0}));
    ev.EventData = text.empty() ? nullptr : reinterpret_cast<PCWSTR>(text.c_str());
    ev.Operation = nullptr;
    r->callback(&ev, r->context);
  }
}

void disconnected() {
  std::vector<std::shared_ptr<Remote>> targets;
  {
    std::lock_guard<std::mutex> lock(gMu);
    for (auto& [p, r] : gRemotes) {
      if (r->callback) targets.push_back(r);
    }
  }
  for (auto& r : targets) {
    HCS_EVENT ev{};
    ev.Type = HcsEventServiceDisconnect;
    r->callback(&ev, r->context);
  }
}

void initLink() {
  static std::once_flag once;
  std::call_once(once, [] {
    standin::setEventHandler(deliver);
    standin::setDisconnectHandler(disconnected);
  });
}

// newRemote: a handle for a system or process that `req` creates or opens.
std::shared_ptr<Remote> newRemote(bool process) {
  auto r = std::make_shared<Remote>();
  r->process = process;
  std::lock_guard<std::mutex> lock(gMu);
  gRemotes[r.get()] = r;
  return r;
}

void dropRemote(void* h, bool process) {
  std::shared_ptr<Remote> r = findRemote(h, process);
  if (!r) return;
  {
    std::lock_guard<std::mutex> lock(gMu);
    gRemotes.erase(r.get());
  }
  {
    std::lock_guard<std::mutex> lock(r->mu);
    r->callback = nullptr;  // no callback after close
  }
  uint64_t remote = 0;
  if (SUCCEEDED(r->remote(remote))) {
    (void)standin::call(Json{{"call", process ? "closeProcess" : "close"}, {"handle", remote}});
  }
}

// setCallback: HcsSetComputeSystemCallback / HcsSetProcessCallback.
HRESULT setCallback(void* h, bool process, void* context, HCS_EVENT_CALLBACK callback) {
  initLink();
  auto r = findRemote(h, process);
  if (!r) return kInvalidHandle;
  uint64_t remote = 0;
  if (HRESULT hr = r->remote(remote); FAILED(hr)) return hr;
  {
    std::lock_guard<std::mutex> lock(r->mu);
    r->callback = callback;
    r->context = context;
  }
  return hresultOf(standin::call(Json{{"call", process ? "watchProcess" : "watch"}, {"handle", remote}}));
}

// waitResult: HcsWaitForOperationResult[AndProcessInfo].
HRESULT waitResult(HCS_OPERATION handle, DWORD timeoutMs, HCS_PROCESS_INFORMATION* info, PWSTR* doc) {
  if (doc) *doc = nullptr;
  std::shared_ptr<Operation> op = findOperation(handle);
  if (!op) return kInvalidHandle;
  std::unique_lock<std::mutex> lock(op->mu);
  if (!op->started) return kInvalidArg;
  auto finished = [&] { return op->done; };
  if (timeoutMs == INFINITE) {
    op->cv.wait(lock, finished);
  } else if (!op->cv.wait_for(lock, std::chrono::milliseconds(timeoutMs), finished)) {
    return kTimeout;
  }
  if (doc && !op->doc.empty()) *doc = standin::taskString(op->doc);
  if (info) {
    *info = HCS_PROCESS_INFORMATION{};
    info->ProcessId = op->pid;
    takeStdio(*op, info);
  }
  return op->hr;
}

}  // namespace

// ---- operations ----

STANDIN_EXPORT HCS_OPERATION WINAPI HcsCreateOperation(const void* context, HCS_OPERATION_COMPLETION callback) {
  initLink();
  auto op = std::make_shared<Operation>();
  op->context = context;
  op->completion = callback;
  std::lock_guard<std::mutex> lock(gMu);
  op->id = gNextOperationId++;
  gOperations[op.get()] = op;
  return reinterpret_cast<HCS_OPERATION>(op.get());
}

// (A call in flight completes into its operation after this: the service's
// answer holds a reference.)
STANDIN_EXPORT void WINAPI HcsCloseOperation(HCS_OPERATION handle) {
  std::lock_guard<std::mutex> lock(gMu);
  gOperations.erase(asOp(handle));
}

STANDIN_EXPORT void* WINAPI HcsGetOperationContext(HCS_OPERATION handle) {
  if (!isOperation(handle)) return nullptr;
  return const_cast<void*>(asOp(handle)->context);
}

STANDIN_EXPORT HRESULT WINAPI HcsSetOperationContext(HCS_OPERATION handle, const void* context) {
  if (!isOperation(handle)) return kInvalidHandle;
  asOp(handle)->context = context;
  return S_OK;
}

STANDIN_EXPORT HCS_OPERATION_TYPE WINAPI HcsGetOperationType(HCS_OPERATION handle) {
  if (!isOperation(handle)) return HcsOperationTypeNone;
  return asOp(handle)->type;
}

STANDIN_EXPORT UINT64 WINAPI HcsGetOperationId(HCS_OPERATION handle) {
  if (!isOperation(handle)) return HCS_INVALID_OPERATION_ID;
  return asOp(handle)->id;
}

STANDIN_EXPORT HCS_SYSTEM WINAPI HcsGetComputeSystemFromOperation(HCS_OPERATION handle) {
  if (!isOperation(handle)) return nullptr;
  return reinterpret_cast<HCS_SYSTEM>(asOp(handle)->system);
}

STANDIN_EXPORT HCS_PROCESS WINAPI HcsGetProcessFromOperation(HCS_OPERATION handle) {
  if (!isOperation(handle)) return nullptr;
  return reinterpret_cast<HCS_PROCESS>(asOp(handle)->process);
}

STANDIN_EXPORT HRESULT WINAPI HcsGetOperationResult(HCS_OPERATION handle, PWSTR* doc) {
  if (doc) *doc = nullptr;
  std::shared_ptr<Operation> op = findOperation(handle);
  if (!op) return kInvalidHandle;
  std::lock_guard<std::mutex> lock(op->mu);
  if (!op->started) return kInvalidArg;
  if (!op->done) return kPending;
  if (doc && !op->doc.empty()) *doc = standin::taskString(op->doc);
  return op->hr;
}

STANDIN_EXPORT HRESULT WINAPI HcsGetOperationResultAndProcessInfo(HCS_OPERATION handle, HCS_PROCESS_INFORMATION* info,
                                                          PWSTR* doc) {
  HRESULT hr = HcsGetOperationResult(handle, doc);
  if (hr != kPending && hr != kInvalidHandle && info) {
    *info = HCS_PROCESS_INFORMATION{};
    std::shared_ptr<Operation> op = findOperation(handle);
    if (op) {
      std::lock_guard<std::mutex> lock(op->mu);
      info->ProcessId = op->pid;
      takeStdio(*op, info);
    }
  }
  return hr;
}

STANDIN_EXPORT HRESULT WINAPI HcsWaitForOperationResult(HCS_OPERATION handle, DWORD timeoutMs, PWSTR* doc) {
  return waitResult(handle, timeoutMs, nullptr, doc);
}

STANDIN_EXPORT HRESULT WINAPI HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION handle, DWORD timeoutMs,
                                                              HCS_PROCESS_INFORMATION* info, PWSTR* doc) {
  return waitResult(handle, timeoutMs, info, doc);
}

STANDIN_EXPORT HRESULT WINAPI HcsSetOperationCallback(HCS_OPERATION handle, const void* context,
                                              HCS_OPERATION_COMPLETION callback) {
  std::shared_ptr<Operation> op = findOperation(handle);
  if (!op) return kInvalidHandle;
  std::lock_guard<std::mutex> lock(op->mu);
  op->context = context;
  op->completion = callback;
  return S_OK;
}

STANDIN_EXPORT HRESULT WINAPI HcsCancelOperation(HCS_OPERATION handle) {
  if (!isOperation(handle)) return kInvalidHandle;
  return E_NOTIMPL;  // the fake's calls run to their end
}

// ---- compute systems ----

STANDIN_EXPORT HRESULT WINAPI HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION op) {
  return start(op, HcsOperationTypeEnumerate, Json{{"call", "enumerate"}, {"document", standin::utf8(query)}});
}

STANDIN_EXPORT HRESULT WINAPI HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION op,
                                             const SECURITY_DESCRIPTOR*, HCS_SYSTEM* system) {
  if (!system || !id) return kInvalidArg;
  *system = nullptr;
  if (!isOperation(op)) return kInvalidHandle;
  auto r = newRemote(false);
  Json req = {{"call", "create"}, {"id", standin::utf8(id)}, {"document", standin::utf8(configuration)}};
  HRESULT hr = start(op, HcsOperationTypeCreate, std::move(req), r.get(), nullptr, [r](const Json& a) { r->resolve(a); });
  if (FAILED(hr)) {
    std::lock_guard<std::mutex> lock(gMu);
    gRemotes.erase(r.get());
    return hr;
  }
  *system = reinterpret_cast<HCS_SYSTEM>(r.get());
  return S_OK;
}

STANDIN_EXPORT HRESULT WINAPI HcsOpenComputeSystem(PCWSTR id, DWORD, HCS_SYSTEM* system) {
  initLink();
  if (!system || !id) return kInvalidArg;
  *system = nullptr;
  Json a = standin::call(Json{{"call", "open"}, {"id", standin::utf8(id)}});
  if (FAILED(hresultOf(a))) return hresultOf(a);
  auto r = newRemote(false);
  r->resolve(a);
  *system = reinterpret_cast<HCS_SYSTEM>(r.get());
  return S_OK;
}

STANDIN_EXPORT void WINAPI HcsCloseComputeSystem(HCS_SYSTEM system) { dropRemote(system, false); }

STANDIN_EXPORT HRESULT WINAPI HcsStartComputeSystem(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR options) {
  return onRemote(s, false, op, HcsOperationTypeStart, "start", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsShutDownComputeSystem(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR options) {
  return onRemote(s, false, op, HcsOperationTypeShutdown, "shutdown", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsTerminateComputeSystem(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR options) {
  return onRemote(s, false, op, HcsOperationTypeTerminate, "terminate", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsPauseComputeSystem(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR options) {
  return onRemote(s, false, op, HcsOperationTypePause, "pause", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsResumeComputeSystem(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR options) {
  return onRemote(s, false, op, HcsOperationTypeResume, "resume", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsSaveComputeSystem(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR options) {
  return onRemote(s, false, op, HcsOperationTypeSave, "save", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsGetComputeSystemProperties(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR query) {
  return onRemote(s, false, op, HcsOperationTypeGetProperties, "properties", query);
}
STANDIN_EXPORT HRESULT WINAPI HcsModifyComputeSystem(HCS_SYSTEM s, HCS_OPERATION op, PCWSTR configuration, HANDLE) {
  return onRemote(s, false, op, HcsOperationTypeModify, "modify", configuration);
}

STANDIN_EXPORT HRESULT WINAPI HcsSetComputeSystemCallback(HCS_SYSTEM s, HCS_EVENT_OPTIONS, const void* context,
                                                  HCS_EVENT_CALLBACK callback) {
  return setCallback(s, false, const_cast<void*>(context), callback);
}

// ---- processes ----

STANDIN_EXPORT HRESULT WINAPI HcsCreateProcess(HCS_SYSTEM s, PCWSTR parameters, HCS_OPERATION op, const SECURITY_DESCRIPTOR*,
                                       HCS_PROCESS* process) {
  if (!process) return kInvalidArg;
  *process = nullptr;
  auto sys = findRemote(s, false);
  if (!sys || !isOperation(op)) return kInvalidHandle;
  uint64_t remote = 0;
  if (HRESULT hr = sys->remote(remote); FAILED(hr)) return hr;
  auto r = newRemote(true);
  Json req = {{"call", "createProcess"}, {"handle", remote}, {"document", standin::utf8(parameters)}};
  HRESULT hr = start(op, HcsOperationTypeCreateProcess, std::move(req), sys.get(), r.get(),
                     [r](const Json& a) { r->resolve(a); });
  if (FAILED(hr)) {
    std::lock_guard<std::mutex> lock(gMu);
    gRemotes.erase(r.get());
    return hr;
  }
  *process = reinterpret_cast<HCS_PROCESS>(r.get());
  return S_OK;
}

STANDIN_EXPORT HRESULT WINAPI HcsOpenProcess(HCS_SYSTEM s, DWORD pid, DWORD, HCS_PROCESS* process) {
  if (!process) return kInvalidArg;
  *process = nullptr;
  auto sys = findRemote(s, false);
  if (!sys) return kInvalidHandle;
  uint64_t remote = 0;
  if (HRESULT hr = sys->remote(remote); FAILED(hr)) return hr;
  Json a = standin::call(Json{{"call", "openProcess"}, {"handle", remote}, {"pid", pid}});
  if (FAILED(hresultOf(a))) return hresultOf(a);
  auto r = newRemote(true);
  a["pid"] = pid;
  r->resolve(a);
  *process = reinterpret_cast<HCS_PROCESS>(r.get());
  return S_OK;
}

STANDIN_EXPORT void WINAPI HcsCloseProcess(HCS_PROCESS p) { dropRemote(p, true); }

STANDIN_EXPORT HRESULT WINAPI HcsTerminateProcess(HCS_PROCESS p, HCS_OPERATION op, PCWSTR options) {
  return onRemote(p, true, op, HcsOperationTypeSignalProcess, "terminateProcess", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsSignalProcess(HCS_PROCESS p, HCS_OPERATION op, PCWSTR options) {
  return onRemote(p, true, op, HcsOperationTypeSignalProcess, "signalProcess", options);
}
STANDIN_EXPORT HRESULT WINAPI HcsGetProcessProperties(HCS_PROCESS p, HCS_OPERATION op, PCWSTR query) {
  return onRemote(p, true, op, HcsOperationTypeGetProcessProperties, "processProperties", query);
}
STANDIN_EXPORT HRESULT WINAPI HcsModifyProcess(HCS_PROCESS p, HCS_OPERATION op, PCWSTR settings) {
  // Closing a relayed stdin: its relay sends what is in the pipe, then EOF.
  auto doc = hcsshim::parseJson(standin::utf8(settings));
  auto proc = findRemote(p, true);
  if (proc && proc->stdinRelay && doc.ok() && doc->is_object() && doc->value("Operation", std::string()) == "CloseHandle") {
    proc->stdinRelay->closing = true;
    for (int i = 0; i < 5000 && !proc->stdinRelay->finished; ++i) Sleep(2);
  }
  return onRemote(p, true, op, HcsOperationTypeModifyProcess, "modifyProcess", settings);
}
STANDIN_EXPORT HRESULT WINAPI HcsSetProcessCallback(HCS_PROCESS p, HCS_EVENT_OPTIONS, void* context, HCS_EVENT_CALLBACK callback) {
  return setCallback(p, true, context, callback);
}
