#include "src/hcs/compute_system.h"

#include "src/common/log.h"

namespace hcsshim::hcs {

using runtime::Task;

namespace {

// timed fails `op` with HCS_E_OPERATION_TIMEOUT after `timeout`; a
// result arriving later goes to onLate.
template <typename T, typename OnLate = void (*)(T)>
Task<T> timed(runtime::EventLoop& loop, Task<T> op, runtime::Duration timeout, std::string opName,
                    std::string id, OnLate onLate = [](T) {}) {
  return runtime::withTimeout(
      loop, std::move(op), timeout,
      [opName, id]() -> T {
        return Status::fromHResult(hresult::kHcsOperationTimeout, opName, id, "the operation timed out");
      },
      std::move(onLate));
}

}  // namespace

struct ComputeSystem::State {
  HcsApi& api;
  runtime::EventLoop& loop;
  std::string id;
  HcsOptions options;
  SystemHandle handle = 0;
  bool closed = false;
  std::optional<SystemExit> exit;
  runtime::WaitList exitWaiters;
};

struct Process::State {
  HcsApi& api;
  runtime::EventLoop& loop;
  std::string systemId;
  SystemHandle system = 0;
  ProcessHandle handle = 0;
  uint32_t pid = 0;
  bool closed = false;
  std::unique_ptr<runtime::Stream> stdio[3];
  std::optional<int> exitCode;
  runtime::WaitList exitWaiters;
  std::string name() const { return systemId + "/" + std::to_string(pid); }
};

namespace {

void watchSystem(const std::shared_ptr<ComputeSystem::State>& s) {
  std::weak_ptr<ComputeSystem::State> weak = s;
  Status st = s->api.setComputeSystemCallback(s->handle, [weak](const Event& e) {
    auto s = weak.lock();
    if (!s) return;
    if (e.type == EventType::kSystemExited || e.type == EventType::kServiceDisconnect) {
      SystemExit x;
      auto j = parseJson(e.eventData);
      if (j.ok() && j->is_object()) {
        x.status = static_cast<HResult>(j->value("Status", 0));
        x.exitType = j->value("ExitType", std::string("Unknown"));
      }
      if (e.type == EventType::kServiceDisconnect) {
        x.status = hresult::kHcsConnectionClosed;
        x.exitType = "Unknown";
      }
      if (!s->exit) s->exit = x;
      HLOG(Debug, "hcs.system.exit_notified").kv("id", s->id).kv("exit_type", x.exitType);
      s->exitWaiters.notifyAll();
    }
  });
  if (!st.ok()) HLOG(Warn, "hcs.system.callback_failed").kv("id", s->id).kv("err", st);
}

Status closedError(const char* op, const std::string& id) {
  return Status::fromHResult(hresult::kInvalidHandle, op, id, "the compute system handle is closed");
}

}  // namespace

Task<StatusOr<std::unique_ptr<ComputeSystem>>> ComputeSystem::create(HcsApi& api, runtime::EventLoop& loop,
                                                                      std::string id, std::string document,
                                                                      HcsOptions options) {
  auto s = std::make_shared<State>(State{api, loop, id, options});
  // A create that completes after we gave up made a system nobody owns:
  // terminate it, as hcsshim does on a create timeout, and close the handle.
  auto onLate = [&api, id](StatusOr<SystemHandle> late) {
    if (!late.ok()) return;
    HLOG(Warn, "hcs.system.created_after_timeout").kv("id", id);
    runtime::spawn([](HcsApi& api, SystemHandle h, std::string id) -> Task<void> {
      Status st = co_await api.terminateComputeSystem(h, "");
      if (!st.ok()) HLOG(Warn, "hcs.system.late_terminate_failed").kv("id", id).kv("err", st);
      api.closeComputeSystem(h);
    }(api, *late, id));
  };
  HCS_CO_ASSIGN_OR_RETURN(s->handle, co_await timed(loop, api.createComputeSystem(id, std::move(document)),
                                                           options.createTimeout, "CreateComputeSystem", id, onLate));
  watchSystem(s);
  HLOG(Info, "hcs.system.created").kv("id", id);
  co_return std::unique_ptr<ComputeSystem>(new ComputeSystem(s));
}

Task<StatusOr<std::unique_ptr<ComputeSystem>>> ComputeSystem::open(HcsApi& api, runtime::EventLoop& loop, std::string id,
                                                                    HcsOptions options) {
  auto s = std::make_shared<State>(State{api, loop, id, options});
  // An open that completes after we gave up only needs its handle closed.
  auto onLate = [&api](StatusOr<SystemHandle> late) {
    if (late.ok()) api.closeComputeSystem(*late);
  };
  HCS_CO_ASSIGN_OR_RETURN(s->handle, co_await timed(loop, api.openComputeSystem(id), options.defaultTimeout,
                                                    "OpenComputeSystem", id, onLate));
  watchSystem(s);
  co_return std::unique_ptr<ComputeSystem>(new ComputeSystem(s));
}

ComputeSystem::~ComputeSystem() { close(); }

const std::string& ComputeSystem::id() const { return s_->id; }

void ComputeSystem::close() {
  if (s_->closed) return;
  s_->closed = true;
  s_->api.closeComputeSystem(s_->handle);
  // Nobody can be notified through a closed handle: release the waiters.
  if (!s_->exit) {
    s_->exitWaiters.notifyAll();
  }
}

#define HCS_SIMPLE_OP(method, apiCall, opName, timeoutField)                                         \
  Task<Status> ComputeSystem::method() {                                                            \
    std::shared_ptr<State> s = s_;                                                                  \
    if (s->closed) co_return closedError(opName, s->id);                                            \
    Status st = co_await timed(s->loop, s->api.apiCall(s->handle, ""), s->options.timeoutField, \
                                     opName, s->id);                                                \
    if (!st.ok()) HLOG(Debug, "hcs.system.op_failed").kv("id", s->id).kv("op", opName).kv("err", st); \
    co_return st.withContext(opName, s->id);                                                        \
  }

HCS_SIMPLE_OP(start, startComputeSystem, "Start", startTimeout)
HCS_SIMPLE_OP(shutdown, shutDownComputeSystem, "Shutdown", defaultTimeout)
HCS_SIMPLE_OP(terminate, terminateComputeSystem, "Terminate", defaultTimeout)
HCS_SIMPLE_OP(pause, pauseComputeSystem, "Pause", pauseResumeTimeout)
HCS_SIMPLE_OP(resume, resumeComputeSystem, "Resume", pauseResumeTimeout)
#undef HCS_SIMPLE_OP

Task<Status> ComputeSystem::save(std::string options) {
  std::shared_ptr<State> s = s_;
  if (s->closed) co_return closedError("Save", s->id);
  co_return (co_await timed(s->loop, s->api.saveComputeSystem(s->handle, std::move(options)),
                                  s->options.saveTimeout, "Save", s->id))
      .withContext("Save", s->id);
}

Task<StatusOr<schema::Properties>> ComputeSystem::properties(std::vector<std::string> types) {
  std::shared_ptr<State> s = s_;
  if (s->closed) co_return closedError("GetProperties", s->id);
  schema::PropertyQuery q;
  q.propertyTypes = std::move(types);
  HCS_CO_ASSIGN_OR_RETURN(std::string doc,
                          co_await timed(s->loop, s->api.getComputeSystemProperties(s->handle, jsonText(schema::encode(q))),
                                               s->options.defaultTimeout, "GetProperties", s->id));
  auto p = schema::decode<schema::Properties>(std::string_view(doc));
  if (!p.ok()) co_return Status::fromHResult(hresult::kHcsInvalidJson, "GetProperties", s->id,
                                            "malformed properties document: " + p.status().message());
  co_return std::move(*p);
}

Task<Status> ComputeSystem::modify(const schema::ModifySettingRequest& request) {
  std::shared_ptr<State> s = s_;
  if (s->closed) co_return closedError("Modify", s->id);
  co_return (co_await timed(s->loop, s->api.modifyComputeSystem(s->handle, jsonText(schema::encode(request))),
                                  s->options.defaultTimeout, "Modify", s->id))
      .withContext("Modify", s->id);
}

Task<SystemExit> ComputeSystem::wait() {
  std::shared_ptr<State> s = s_;
  while (!s->exit && !s->closed) co_await s->exitWaiters.wait();
  if (s->exit) co_return *s->exit;
  co_return SystemExit{hresult::kInvalidHandle, "Unknown"};
}

std::optional<SystemExit> ComputeSystem::exited() const { return s_->exit; }

namespace {

void watchProcess(const std::shared_ptr<Process::State>& p) {
  std::weak_ptr<Process::State> weak = p;
  Status st = p->api.setProcessCallback(p->handle, [weak](const Event& e) {
    auto p = weak.lock();
    if (!p || e.type != EventType::kProcessExited) return;
    auto ps = schema::decode<schema::ProcessStatus>(std::string_view(e.eventData));
    int code = (ps.ok() && ps->exitCode) ? static_cast<int>(*ps->exitCode) : -1;
    if (!p->exitCode) p->exitCode = code;
    HLOG(Debug, "hcs.process.exit_notified").kv("process", p->name()).kv("exit_code", code);
    p->exitWaiters.notifyAll();
  });
  if (!st.ok()) HLOG(Warn, "hcs.process.callback_failed").kv("process", p->name()).kv("err", st);
}

}  // namespace

Task<StatusOr<std::unique_ptr<Process>>> ComputeSystem::createProcess(const schema::ProcessParameters& params) {
  std::shared_ptr<State> s = s_;
  if (s->closed) co_return closedError("CreateProcess", s->id);
  // A process started after we gave up is one nobody waits for: end it.
  auto onLate = [s](StatusOr<CreatedProcess> late) {
    if (!late.ok()) return;
    HLOG(Warn, "hcs.process.created_after_timeout").kv("id", s->id).kv("pid", late->pid);
    runtime::spawn([](std::shared_ptr<State> s, ProcessHandle h) -> Task<void> {
      Status st = co_await s->api.terminateProcess(h);
      if (!st.ok()) HLOG(Debug, "hcs.process.late_terminate_failed").kv("id", s->id).kv("err", st);
      s->api.closeProcess(h);
    }(s, late->handle));
  };
  auto created = co_await timed(s->loop, s->api.createProcess(s->handle, jsonText(schema::encode(params))),
                                s->options.defaultTimeout, "CreateProcess", s->id, onLate);
  if (!created.ok()) co_return created.status().withContext("CreateProcess", s->id);
  auto p = std::make_shared<Process::State>(Process::State{s->api, s->loop, s->id, s->handle, created->handle, created->pid});
  p->stdio[0] = std::move(created->stdinStream);
  p->stdio[1] = std::move(created->stdoutStream);
  p->stdio[2] = std::move(created->stderrStream);
  watchProcess(p);
  // The process may have exited before the callback was registered.
  auto props = co_await s->api.getProcessProperties(p->handle);
  if (props.ok()) {
    auto ps = schema::decode<schema::ProcessStatus>(std::string_view(*props));
    if (ps.ok() && ps->exited.value_or(false) && !p->exitCode) p->exitCode = static_cast<int>(ps->exitCode.value_or(0));
  }
  HLOG(Info, "hcs.process.created").kv("process", p->name());
  co_return std::unique_ptr<Process>(new Process(p));
}

Task<StatusOr<std::unique_ptr<Process>>> ComputeSystem::openProcess(uint32_t pid) {
  std::shared_ptr<State> s = s_;
  if (s->closed) co_return closedError("OpenProcess", s->id);
  auto h = co_await s->api.openProcess(s->handle, pid);
  if (!h.ok()) co_return h.status().withContext("OpenProcess", s->id);
  auto p = std::make_shared<Process::State>(Process::State{s->api, s->loop, s->id, s->handle, *h, pid});
  watchProcess(p);
  auto props = co_await s->api.getProcessProperties(p->handle);
  if (props.ok()) {
    auto ps = schema::decode<schema::ProcessStatus>(std::string_view(*props));
    if (ps.ok() && ps->exited.value_or(false)) p->exitCode = static_cast<int>(ps->exitCode.value_or(0));
  }
  co_return std::unique_ptr<Process>(new Process(p));
}

Process::~Process() { close(); }
uint32_t Process::pid() const { return s_->pid; }
runtime::Stream* Process::stdinStream() { return s_->stdio[0].get(); }
runtime::Stream* Process::stdoutStream() { return s_->stdio[1].get(); }
runtime::Stream* Process::stderrStream() { return s_->stdio[2].get(); }
int Process::exitCode() const { return s_->exitCode.value_or(-1); }

void Process::close() {
  if (s_->closed) return;
  s_->closed = true;
  s_->api.closeProcess(s_->handle);
  s_->exitWaiters.notifyAll();
}

Task<Status> Process::signal(int sig) {
  std::shared_ptr<State> p = s_;
  if (p->closed) co_return Status::fromHResult(hresult::kInvalidHandle, "SignalProcess", p->name(), "the process handle is closed");
  Json opts = {{"Signal", sig}};
  co_return (co_await p->api.signalProcess(p->handle, jsonText(opts))).withContext("SignalProcess", p->name());
}

Task<Status> Process::kill() {
  std::shared_ptr<State> p = s_;
  // HCS serialises signals per handle: kill through a second handle so it is
  // not queued behind a pending signal on the first.
  auto second = co_await p->api.openProcess(p->system, p->pid);
  if (!second.ok()) {
    if (p->exitCode) co_return OkStatus();
    co_return second.status().withContext("Kill", p->name());
  }
  Status st = co_await p->api.terminateProcess(*second);
  p->api.closeProcess(*second);
  if (st.hresult() == hresult::kHcsProcessAlreadyStopped || st.hresult() == hresult::kAccessDenied ||
      st.hresult() == hresult::kHcsAccessDenied) {
    co_return OkStatus();
  }
  co_return st.withContext("Kill", p->name());
}

Task<Status> Process::resizeConsole(uint16_t height, uint16_t width) {
  std::shared_ptr<State> p = s_;
  Json req = {{"Operation", "ConsoleSize"}, {"ConsoleSize", {{"Height", height}, {"Width", width}}}};
  co_return (co_await p->api.modifyProcess(p->handle, jsonText(req))).withContext("ResizeConsole", p->name());
}

Task<Status> Process::closeStdin() {
  std::shared_ptr<State> p = s_;
  Json req = {{"Operation", "CloseHandle"}, {"CloseHandle", {{"Handle", "StdIn"}}}};
  co_return (co_await p->api.modifyProcess(p->handle, jsonText(req))).withContext("CloseStdin", p->name());
}

Task<StatusOr<schema::ProcessStatus>> Process::properties() {
  std::shared_ptr<State> p = s_;
  HCS_CO_ASSIGN_OR_RETURN(std::string doc, co_await p->api.getProcessProperties(p->handle));
  auto ps = schema::decode<schema::ProcessStatus>(std::string_view(doc));
  if (!ps.ok()) co_return ps.status().withContext("GetProcessProperties", p->name());
  co_return std::move(*ps);
}

Task<int> Process::wait() {
  std::shared_ptr<State> p = s_;
  while (!p->exitCode && !p->closed) co_await p->exitWaiters.wait();
  co_return p->exitCode.value_or(-1);
}

}  // namespace hcsshim::hcs
