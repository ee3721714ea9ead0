#include "platforms/windows/computecore_hcs.h"

#include "platforms/windows/blocking.h"
#include "platforms/windows/handle_stream.h"

#include <objbase.h>
// clang-format off
#include <computecore.h>
// clang-format on

#include <map>
#include <mutex>

#include "src/common/json.h"
#include "src/common/log.h"
#include "src/common/utf16.h"
#include "src/schema/hcs.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

namespace {

// The HCS procs this file binds, by name (resolved at call time).
#define HCS_PROC(name) decltype(&::name)

const wchar_t* wide(const std::u16string& s) { return reinterpret_cast<const wchar_t*>(s.c_str()); }

// taken: a string HCS returned, as UTF-8, freed.
std::string taken(PWSTR doc) {
  if (!doc) return "";
  auto s = fromUtf16z(reinterpret_cast<const char16_t*>(doc));
  CoTaskMemFree(doc);
  return s.ok() ? *s : std::string("<an HCS document that is not UTF-16: ") + s.status().message() + ">";
}

struct OpResult {
  HRESULT hr = S_OK;
  std::string doc;
  HCS_PROCESS_INFORMATION info{};
};

template <typename H>
uint64_t handleId(H h) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
}
template <typename H>
H fromId(uint64_t id) {
  return reinterpret_cast<H>(static_cast<uintptr_t>(id));
}

}  // namespace

struct ComputeCoreHcs::State : std::enable_shared_from_this<ComputeCoreHcs::State> {
  explicit State(runtime::EventLoop& l) : loop(l) {}
  runtime::EventLoop& loop;
  Dll core{L"computecore.dll"};
  std::mutex mu;
  std::map<uint64_t, hcs::EventCallback> callbacks;  // context -> callback, while its handle is open
  std::map<uint64_t, uint64_t> contextOf;             // handle -> context

  // op runs one HCS operation: `start` calls the HcsXxx function with it.
  Task<StatusOr<OpResult>> op(const char* fn, std::string id, std::function<HRESULT(HCS_OPERATION)> start,
                              bool processInfo = false) {
    auto create = core.proc<HCS_PROC(HcsCreateOperation)>("HcsCreateOperation");
    auto close = core.proc<HCS_PROC(HcsCloseOperation)>("HcsCloseOperation");
    auto result = core.proc<HCS_PROC(HcsGetOperationResult)>("HcsGetOperationResult");
    auto wait = core.proc<HCS_PROC(HcsWaitForOperationResult)>("HcsWaitForOperationResult");
    auto waitInfo = core.proc<HCS_PROC(HcsWaitForOperationResultAndProcessInfo)>("HcsWaitForOperationResultAndProcessInfo");
    if (!create.ok()) co_return create.status().withContext(fn, id);
    if (!close.ok()) co_return close.status().withContext(fn, id);
    if (!result.ok()) co_return result.status().withContext(fn, id);
    if (!wait.ok()) co_return wait.status().withContext(fn, id);
    if (processInfo && !waitInfo.ok()) co_return waitInfo.status().withContext(fn, id);
    HCS_OPERATION operation = (*create)(nullptr, nullptr);
    if (!operation) co_return Status::fromHResult(hresult::kFail, fn, id, "HcsCreateOperation returned no operation");
    auto work = [=, start = std::move(start)]() -> OpResult {
      OpResult r;
      PWSTR doc = nullptr;
      r.hr = start(operation);
      if (FAILED(r.hr)) {
        (void)(*result)(operation, &doc);
      } else if (processInfo) {
        r.hr = (*waitInfo)(operation, INFINITE, &r.info, &doc);
      } else {
        r.hr = (*wait)(operation, INFINITE, &doc);
      }
      r.doc = taken(doc);
      (*close)(operation);
      return r;
    };
    // (A named awaiter: GCC 12 destroys a co_await operand temporary twice.)
    auto call_r = blocking(loop, work);
    OpResult r = co_await call_r;
    if (FAILED(r.hr)) co_return schema::statusFromResult(static_cast<HResult>(r.hr), r.doc, fn, id);
    co_return r;
  }

  Status watch(uint64_t handle, hcs::EventCallback cb, bool process);
  void forget(uint64_t handle);
};

namespace {

// Every live ComputeCoreHcs's state by callback context (an HCS thread
// reaches it with a number, never a pointer that may be gone).
std::mutex gRegistryMu;
std::map<uint64_t, std::weak_ptr<ComputeCoreHcs::State>> gRegistry;
uint64_t gNextContext = 1;

void CALLBACK onEvent(HCS_EVENT* event, void* context) {
  if (!event) return;
  uint64_t ctx = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(context));
  std::shared_ptr<ComputeCoreHcs::State> s;
  {
    std::lock_guard<std::mutex> lock(gRegistryMu);
    auto it = gRegistry.find(ctx);
    if (it != gRegistry.end()) s = it->second.lock();
  }
  if (!s) return;  // its client is gone
  hcs::Event e{static_cast<hcs::EventType>(event->Type), ""};
  if (event->EventData) {
    auto data = fromUtf16z(reinterpret_cast<const char16_t*>(event->EventData));
    e.eventData = data.ok() ? *data : "{}";
  }
  s->loop.post([s, ctx, e] {
    hcs::EventCallback cb;
    {
      std::lock_guard<std::mutex> lock(s->mu);
      auto it = s->callbacks.find(ctx);
      if (it == s->callbacks.end()) return;  // an event after close: dropped
      cb = it->second;
    }
    if (cb) cb(e);
  });
}

}  // namespace

void ComputeCoreHcs::State::forget(uint64_t handle) {
  uint64_t ctx;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = contextOf.find(handle);
    if (it == contextOf.end()) return;
    ctx = it->second;
    callbacks.erase(ctx);
    contextOf.erase(it);
  }
  std::lock_guard<std::mutex> lock(gRegistryMu);
  gRegistry.erase(ctx);
}

Status ComputeCoreHcs::State::watch(uint64_t handle, hcs::EventCallback cb, bool process) {
  uint64_t ctx;
  {
    std::lock_guard<std::mutex> lock(gRegistryMu);
    ctx = gNextContext++;
    gRegistry[ctx] = weak_from_this();
  }
  forget(handle);  // a callback set again replaces the old one
  {
    std::lock_guard<std::mutex> lock(mu);
    contextOf[handle] = ctx;
    callbacks[ctx] = std::move(cb);
  }
  HRESULT hr;
  void* context = reinterpret_cast<void*>(static_cast<uintptr_t>(ctx));
  if (process) {
    auto set = core.proc<HCS_PROC(HcsSetProcessCallback)>("HcsSetProcessCallback");
    if (!set.ok()) return set.status().withContext("SetProcessCallback", "");
    hr = (*set)(fromId<HCS_PROCESS>(handle), HcsEventOptionNone, context, onEvent);
  } else {
    auto set = core.proc<HCS_PROC(HcsSetComputeSystemCallback)>("HcsSetComputeSystemCallback");
    if (!set.ok()) return set.status().withContext("SetComputeSystemCallback", "");
    hr = (*set)(fromId<HCS_SYSTEM>(handle), HcsEventOptionNone, context, onEvent);
  }
  if (FAILED(hr)) {
    forget(handle);
    return schema::statusFromResult(static_cast<HResult>(hr), "", process ? "SetProcessCallback" : "SetComputeSystemCallback", "");
  }
  return OkStatus();
}

ComputeCoreHcs::ComputeCoreHcs(runtime::EventLoop& loop) : s_(std::make_shared<State>(loop)) {}

ComputeCoreHcs::~ComputeCoreHcs() {
  std::lock_guard<std::mutex> lock(gRegistryMu);
  for (auto it = gRegistry.begin(); it != gRegistry.end();) {
    it = it->second.lock() == s_ ? gRegistry.erase(it) : std::next(it);
  }
}

// The calls. Each converts its documents first: one that cannot cross is
// refused before HCS sees it.
#define HCS_WIDE(var, text, fn, id)                                                   \
  auto var##_w = toUtf16(text);                                                       \
  if (!var##_w.ok()) co_return var##_w.status().withContext(fn, id);                  \
  std::u16string var = std::move(*var##_w)

Task<StatusOr<std::string>> ComputeCoreHcs::enumerateComputeSystems(std::string query) {
  HCS_WIDE(q, query, "EnumerateComputeSystems", "");
  auto fn = s_->core.proc<HCS_PROC(HcsEnumerateComputeSystems)>("HcsEnumerateComputeSystems");
  if (!fn.ok()) co_return fn.status().withContext("EnumerateComputeSystems", "");
  auto f = *fn;
  auto r_task = s_->op("EnumerateComputeSystems", "", [f, q](HCS_OPERATION op) { return f(q.empty() ? nullptr : wide(q), op); });  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  if (!r.ok()) co_return r.status();
  co_return r->doc.empty() ? std::string("[]") : r->doc;
}

Task<StatusOr<hcs::SystemHandle>> ComputeCoreHcs::createComputeSystem(std::string id, std::string configuration) {
  HCS_WIDE(wid, id, "CreateComputeSystem", id);
  HCS_WIDE(doc, configuration, "CreateComputeSystem", id);
  auto fn = s_->core.proc<HCS_PROC(HcsCreateComputeSystem)>("HcsCreateComputeSystem");
  if (!fn.ok()) co_return fn.status().withContext("CreateComputeSystem", id);
  auto f = *fn;
  auto system = std::make_shared<HCS_SYSTEM>(nullptr);
  auto r_task = s_->op("CreateComputeSystem", id, [f, wid, doc, system](HCS_OPERATION op) {
    return f(wide(wid), wide(doc), op, nullptr, system.get());
  });  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  if (!r.ok()) {
    if (*system) closeComputeSystem(handleId(*system));
    co_return r.status();
  }
  co_return handleId(*system);
}

Task<StatusOr<hcs::SystemHandle>> ComputeCoreHcs::openComputeSystem(std::string id) {
  HCS_WIDE(wid, id, "OpenComputeSystem", id);
  auto fn = s_->core.proc<HCS_PROC(HcsOpenComputeSystem)>("HcsOpenComputeSystem");
  if (!fn.ok()) co_return fn.status().withContext("OpenComputeSystem", id);
  HCS_SYSTEM system = nullptr;
  HRESULT hr = (*fn)(wide(wid), GENERIC_ALL, &system);
  if (FAILED(hr)) co_return schema::statusFromResult(static_cast<HResult>(hr), "", "OpenComputeSystem", id);
  co_return handleId(system);
}

namespace {

// systemCall: an HcsXxxComputeSystem(system, operation, options) call.
template <typename F>
Task<Status> systemCall(std::shared_ptr<ComputeCoreHcs::State> s, const char* fn, const char* name, hcs::SystemHandle h,
                        std::string options) {
  HCS_WIDE(o, options, fn, "");
  auto p = s->core.proc<F>(name);
  if (!p.ok()) co_return p.status().withContext(fn, "");
  auto f = *p;
  auto r_task = s->op(fn, "", [f, h, o](HCS_OPERATION op) {
    return f(fromId<HCS_SYSTEM>(h), op, o.empty() ? nullptr : wide(o));
  });  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  co_return r.status();
}

}  // namespace

Task<Status> ComputeCoreHcs::startComputeSystem(hcs::SystemHandle system, std::string options) {
  return systemCall<HCS_PROC(HcsStartComputeSystem)>(s_, "StartComputeSystem", "HcsStartComputeSystem", system, std::move(options));
}
Task<Status> ComputeCoreHcs::shutDownComputeSystem(hcs::SystemHandle system, std::string options) {
  return systemCall<HCS_PROC(HcsShutDownComputeSystem)>(s_, "ShutDownComputeSystem", "HcsShutDownComputeSystem", system,
                                                        std::move(options));
}
Task<Status> ComputeCoreHcs::terminateComputeSystem(hcs::SystemHandle system, std::string options) {
  return systemCall<HCS_PROC(HcsTerminateComputeSystem)>(s_, "TerminateComputeSystem", "HcsTerminateComputeSystem", system,
                                                         std::move(options));
}
Task<Status> ComputeCoreHcs::pauseComputeSystem(hcs::SystemHandle system, std::string options) {
  return systemCall<HCS_PROC(HcsPauseComputeSystem)>(s_, "PauseComputeSystem", "HcsPauseComputeSystem", system, std::move(options));
}
Task<Status> ComputeCoreHcs::resumeComputeSystem(hcs::SystemHandle system, std::string options) {
  return systemCall<HCS_PROC(HcsResumeComputeSystem)>(s_, "ResumeComputeSystem", "HcsResumeComputeSystem", system, std::move(options));
}
Task<Status> ComputeCoreHcs::saveComputeSystem(hcs::SystemHandle system, std::string options) {
  return systemCall<HCS_PROC(HcsSaveComputeSystem)>(s_, "SaveComputeSystem", "HcsSaveComputeSystem", system, std::move(options));
}

Task<StatusOr<std::string>> ComputeCoreHcs::getComputeSystemProperties(hcs::SystemHandle system, std::string query) {
  HCS_WIDE(q, query, "GetComputeSystemProperties", "");
  auto fn = s_->core.proc<HCS_PROC(HcsGetComputeSystemProperties)>("HcsGetComputeSystemProperties");
  if (!fn.ok()) co_return fn.status().withContext("GetComputeSystemProperties", "");
  auto f = *fn;
  auto r_task = s_->op("GetComputeSystemProperties", "", [f, system, q](HCS_OPERATION op) {
    return f(fromId<HCS_SYSTEM>(system), op, q.empty() ? nullptr : wide(q));
  });  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  if (!r.ok()) co_return r.status();
  co_return r->doc;
}

Task<Status> ComputeCoreHcs::modifyComputeSystem(hcs::SystemHandle system, std::string settings) {
  HCS_WIDE(doc, settings, "ModifyComputeSystem", "");
  auto fn = s_->core.proc<HCS_PROC(HcsModifyComputeSystem)>("HcsModifyComputeSystem");
  if (!fn.ok()) co_return fn.status().withContext("ModifyComputeSystem", "");
  auto f = *fn;
  auto r_task = s_->op("ModifyComputeSystem", "", [f, system, doc](HCS_OPERATION op) {
    return f(fromId<HCS_SYSTEM>(system), op, wide(doc), nullptr);
  });  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  co_return r.status();
}

Status ComputeCoreHcs::setComputeSystemCallback(hcs::SystemHandle system, hcs::EventCallback callback) {
  return s_->watch(system, std::move(callback), /*process=*/false);
}

void ComputeCoreHcs::closeComputeSystem(hcs::SystemHandle system) {
  s_->forget(system);  // events already on their way are dropped
  auto fn = s_->core.proc<HCS_PROC(HcsCloseComputeSystem)>("HcsCloseComputeSystem");
  if (fn.ok()) (*fn)(fromId<HCS_SYSTEM>(system));
}

Task<StatusOr<hcs::CreatedProcess>> ComputeCoreHcs::createProcess(hcs::SystemHandle system, std::string parameters) {
  HCS_WIDE(doc, parameters, "CreateProcess", "");
  auto fn = s_->core.proc<HCS_PROC(HcsCreateProcess)>("HcsCreateProcess");
  if (!fn.ok()) co_return fn.status().withContext("CreateProcess", "");
  auto f = *fn;
  auto process = std::make_shared<HCS_PROCESS>(nullptr);
  auto r_task = s_->op(
      "CreateProcess", "",
      [f, system, doc, process](HCS_OPERATION op) { return f(fromId<HCS_SYSTEM>(system), wide(doc), op, nullptr, process.get()); },
      /*processInfo=*/true);  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  if (!r.ok()) {
    if (*process) closeProcess(handleId(*process));
    co_return r.status();
  }
  // The pipes asked for (CreateStd*Pipe) are the caller's to use and close.
  hcs::CreatedProcess out;
  out.handle = handleId(*process);
  out.pid = r->info.ProcessId;
  std::string name = "hcs process " + std::to_string(out.pid);
  if (r->info.StdInput) out.stdinStream = std::make_unique<HandleStream>(s_->loop, r->info.StdInput, name + " stdin");
  if (r->info.StdOutput) out.stdoutStream = std::make_unique<HandleStream>(s_->loop, r->info.StdOutput, name + " stdout");
  if (r->info.StdError) out.stderrStream = std::make_unique<HandleStream>(s_->loop, r->info.StdError, name + " stderr");
  co_return out;
}

Task<StatusOr<hcs::ProcessHandle>> ComputeCoreHcs::openProcess(hcs::SystemHandle system, uint32_t pid) {
  auto fn = s_->core.proc<HCS_PROC(HcsOpenProcess)>("HcsOpenProcess");
  if (!fn.ok()) co_return fn.status().withContext("OpenProcess", std::to_string(pid));
  HCS_PROCESS process = nullptr;
  HRESULT hr = (*fn)(fromId<HCS_SYSTEM>(system), pid, GENERIC_ALL, &process);
  if (FAILED(hr)) co_return schema::statusFromResult(static_cast<HResult>(hr), "", "OpenProcess", std::to_string(pid));
  co_return handleId(process);
}

namespace {

template <typename F>
Task<StatusOr<std::string>> processCall(std::shared_ptr<ComputeCoreHcs::State> s, const char* fn, const char* name,
                                        hcs::ProcessHandle h, std::string options) {
  HCS_WIDE(o, options, fn, "");
  auto p = s->core.proc<F>(name);
  if (!p.ok()) co_return p.status().withContext(fn, "");
  auto f = *p;
  auto r_task = s->op(fn, "", [f, h, o](HCS_OPERATION op) {
    return f(fromId<HCS_PROCESS>(h), op, o.empty() ? nullptr : wide(o));
  });  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  if (!r.ok()) co_return r.status();
  co_return r->doc;
}

}  // namespace

Task<Status> ComputeCoreHcs::signalProcess(hcs::ProcessHandle process, std::string options) {
  auto r_task = processCall<HCS_PROC(HcsSignalProcess)>(s_, "SignalProcess", "HcsSignalProcess", process, std::move(options));  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  co_return r.status();
}

Task<Status> ComputeCoreHcs::terminateProcess(hcs::ProcessHandle process) {
  auto r_task = processCall<HCS_PROC(HcsTerminateProcess)>(s_, "TerminateProcess", "HcsTerminateProcess", process, "");  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  co_return r.status();
}

Task<StatusOr<std::string>> ComputeCoreHcs::getProcessProperties(hcs::ProcessHandle process) {
  return processCall<HCS_PROC(HcsGetProcessProperties)>(s_, "GetProcessProperties", "HcsGetProcessProperties", process, "");
}

Task<Status> ComputeCoreHcs::modifyProcess(hcs::ProcessHandle process, std::string settings) {
  auto r_task = processCall<HCS_PROC(HcsModifyProcess)>(s_, "ModifyProcess", "HcsModifyProcess", process, std::move(settings));  // (no temporaries in a co_await: GCC 12)
  auto r = co_await std::move(r_task);
  co_return r.status();
}

Status ComputeCoreHcs::setProcessCallback(hcs::ProcessHandle process, hcs::EventCallback callback) {
  return s_->watch(process, std::move(callback), /*process=*/true);
}

void ComputeCoreHcs::closeProcess(hcs::ProcessHandle process) {
  s_->forget(process);
  auto fn = s_->core.proc<HCS_PROC(HcsCloseProcess)>("HcsCloseProcess");
  if (fn.ok()) (*fn)(fromId<HCS_PROCESS>(process));
}

}  // namespace hcsshim::platforms::windows
