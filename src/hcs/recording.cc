#include "src/hcs/recording.h"

#include <algorithm>
#include <cstdio>

namespace hcsshim::hcs {

using runtime::Task;

namespace {

std::string hexHr(HResult hr) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(hr));
  return buf;
}

// The result of one call, whatever its type.
struct Outcome {
  Status status;
  std::string value;
  uint64_t handle = 0;  // the recording's number
  uint32_t pid = 0;
};

Json statusJson(const Status& st, Json result) {
  result["hr"] = hexHr(st.hresult());
  if (!st.ok()) {
    result["code"] = static_cast<int>(st.code());
    result["message"] = st.message();
    if (!st.op().empty()) result["op"] = st.op();
    if (!st.id().empty()) result["id"] = st.id();
    if (!st.errorEvents().empty()) result["errorEvents"] = st.errorEvents();
  }
  return result;
}

double millis(runtime::Duration d) { return static_cast<double>(d.count()) / 1e6; }

}  // namespace

// ---------------------------------------------------------------- recording

struct RecordingHcsApi::State {
  State(HcsApi& i, runtime::EventLoop& l, Sink s) : inner(i), loop(l), sink(std::move(s)), origin(l.now()) {}
  HcsApi& inner;
  runtime::EventLoop& loop;
  Sink sink;
  runtime::TimePoint origin;
  uint64_t nextCall = 0, completed = 0, nextHandle = 1;
  std::map<uint64_t, uint64_t> systems, processes;  // platform handle -> recorded number

  uint64_t number(std::map<uint64_t, uint64_t>& m, uint64_t h) {
    auto it = m.find(h);
    if (it != m.end()) return it->second;
    return m[h] = nextHandle++;
  }
  void write(const Json& line) { sink(line.dump()); }
  void call(uint64_t n, const char* op, double start, Json args, const Outcome& o) {
    Json result = Json::object();
    if (!o.value.empty()) result["value"] = o.value;
    if (o.handle) result["handle"] = o.handle;
    if (o.pid) result["pid"] = o.pid;
    ++completed;
    write(Json{{"call", n}, {"op", op}, {"start_ms", start}, {"end_ms", millis(loop.now() - origin)}, {"args", std::move(args)},
               {"result", statusJson(o.status, std::move(result))}});
  }
  EventCallback watch(uint64_t recorded, EventCallback cb, std::weak_ptr<State> self) {
    return [self, recorded, cb = std::move(cb)](const Event& e) {
      if (auto s = self.lock()) {
        s->write(Json{{"event", {{"handle", recorded}, {"type", static_cast<uint32_t>(e.type)}, {"data", e.eventData}}},
                      {"after", s->completed},
                      {"at_ms", millis(s->loop.now() - s->origin)}});
      }
      if (cb) cb(e);
    };
  }
};

RecordingHcsApi::RecordingHcsApi(HcsApi& inner, runtime::EventLoop& loop, Sink sink)
    : s_(std::make_shared<State>(inner, loop, std::move(sink))) {}
RecordingHcsApi::~RecordingHcsApi() = default;

namespace {

// recorded runs `call`, then writes its line with what `fill` takes from its result.
template <typename T, typename Fill>
Task<T> recorded(std::shared_ptr<RecordingHcsApi::State> s, const char* op, Json args, Task<T> call, Fill fill) {
  uint64_t n = s->nextCall++;
  double start = millis(s->loop.now() - s->origin);
  T r = co_await std::move(call);
  Outcome o;
  fill(r, o);
  s->call(n, op, start, std::move(args), o);
  co_return r;
}

void statusOnly(const Status& r, Outcome& o) { o.status = r; }
void valueOf(const StatusOr<std::string>& r, Outcome& o) {
  o.status = r.status();
  if (r.ok()) o.value = *r;
}

}  // namespace

Task<StatusOr<std::string>> RecordingHcsApi::enumerateComputeSystems(std::string query) {
  return recorded(s_, "enumerateComputeSystems", Json{{"query", query}}, s_->inner.enumerateComputeSystems(query), valueOf);
}

Task<StatusOr<SystemHandle>> RecordingHcsApi::createComputeSystem(std::string id, std::string configuration) {
  auto s = s_;
  return recorded(s_, "createComputeSystem", Json{{"id", id}, {"configuration", configuration}},
                  s_->inner.createComputeSystem(id, configuration), [s](const StatusOr<SystemHandle>& r, Outcome& o) {
                    o.status = r.status();
                    if (r.ok()) o.handle = s->number(s->systems, *r);
                  });
}

Task<StatusOr<SystemHandle>> RecordingHcsApi::openComputeSystem(std::string id) {
  auto s = s_;
  return recorded(s_, "openComputeSystem", Json{{"id", id}}, s_->inner.openComputeSystem(id),
                  [s](const StatusOr<SystemHandle>& r, Outcome& o) {
                    o.status = r.status();
                    if (r.ok()) o.handle = s->number(s->systems, *r);
                  });
}

#define HCS_RECORD_SYSTEM_OP(Method, name)                                                                 \
  Task<Status> RecordingHcsApi::Method(SystemHandle system, std::string options) {                         \
    Json args{{"system", s_->number(s_->systems, system)}, {"options", options}};                          \
    return recorded(s_, name, std::move(args), s_->inner.Method(system, options), statusOnly);             \
  }
HCS_RECORD_SYSTEM_OP(startComputeSystem, "startComputeSystem")
HCS_RECORD_SYSTEM_OP(shutDownComputeSystem, "shutDownComputeSystem")
HCS_RECORD_SYSTEM_OP(terminateComputeSystem, "terminateComputeSystem")
HCS_RECORD_SYSTEM_OP(pauseComputeSystem, "pauseComputeSystem")
HCS_RECORD_SYSTEM_OP(resumeComputeSystem, "resumeComputeSystem")
HCS_RECORD_SYSTEM_OP(saveComputeSystem, "saveComputeSystem")
HCS_RECORD_SYSTEM_OP(modifyComputeSystem, "modifyComputeSystem")
#undef HCS_RECORD_SYSTEM_OP

Task<StatusOr<std::string>> RecordingHcsApi::getComputeSystemProperties(SystemHandle system, std::string query) {
  Json args{{"system", s_->number(s_->systems, system)}, {"query", query}};
  return recorded(s_, "getComputeSystemProperties", std::move(args), s_->inner.getComputeSystemProperties(system, query), valueOf);
}

Status RecordingHcsApi::setComputeSystemCallback(SystemHandle system, EventCallback callback) {
  uint64_t n = s_->number(s_->systems, system);
  return s_->inner.setComputeSystemCallback(system, s_->watch(n, std::move(callback), s_));
}

void RecordingHcsApi::closeComputeSystem(SystemHandle system) {
  uint64_t n = s_->number(s_->systems, system);
  s_->inner.closeComputeSystem(system);
  s_->call(s_->nextCall++, "closeComputeSystem", millis(s_->loop.now() - s_->origin), Json{{"system", n}}, Outcome{});
  s_->systems.erase(system);
}

Task<StatusOr<CreatedProcess>> RecordingHcsApi::createProcess(SystemHandle system, std::string parameters) {
  auto s = s_;
  Json args{{"system", s_->number(s_->systems, system)}, {"parameters", parameters}};
  return recorded(s_, "createProcess", std::move(args), s_->inner.createProcess(system, parameters),
                  [s](const StatusOr<CreatedProcess>& r, Outcome& o) {
                    o.status = r.status();
                    if (r.ok()) {
                      o.handle = s->number(s->processes, r->handle);
                      o.pid = r->pid;
                    }
                  });
}

Task<StatusOr<ProcessHandle>> RecordingHcsApi::openProcess(SystemHandle system, uint32_t pid) {
  auto s = s_;
  Json args{{"system", s_->number(s_->systems, system)}, {"pid", pid}};
  return recorded(s_, "openProcess", std::move(args), s_->inner.openProcess(system, pid),
                  [s](const StatusOr<ProcessHandle>& r, Outcome& o) {
                    o.status = r.status();
                    if (r.ok()) o.handle = s->number(s->processes, *r);
                  });
}

Task<Status> RecordingHcsApi::signalProcess(ProcessHandle process, std::string options) {
  Json args{{"process", s_->number(s_->processes, process)}, {"options", options}};
  return recorded(s_, "signalProcess", std::move(args), s_->inner.signalProcess(process, options), statusOnly);
}

Task<Status> RecordingHcsApi::terminateProcess(ProcessHandle process) {
  Json args{{"process", s_->number(s_->processes, process)}};
  return recorded(s_, "terminateProcess", std::move(args), s_->inner.terminateProcess(process), statusOnly);
}

Task<StatusOr<std::string>> RecordingHcsApi::getProcessProperties(ProcessHandle process) {
  Json args{{"process", s_->number(s_->processes, process)}};
  return recorded(s_, "getProcessProperties", std::move(args), s_->inner.getProcessProperties(process), valueOf);
}

Task<Status> RecordingHcsApi::modifyProcess(ProcessHandle process, std::string settings) {
  Json args{{"process", s_->number(s_->processes, process)}, {"settings", settings}};
  return recorded(s_, "modifyProcess", std::move(args), s_->inner.modifyProcess(process, settings), statusOnly);
}

Status RecordingHcsApi::setProcessCallback(ProcessHandle process, EventCallback callback) {
  uint64_t n = s_->number(s_->processes, process);
  return s_->inner.setProcessCallback(process, s_->watch(n, std::move(callback), s_));
}

void RecordingHcsApi::closeProcess(ProcessHandle process) {
  uint64_t n = s_->number(s_->processes, process);
  s_->inner.closeProcess(process);
  s_->call(s_->nextCall++, "closeProcess", millis(s_->loop.now() - s_->origin), Json{{"process", n}}, Outcome{});
  s_->processes.erase(process);
}

// ------------------------------------------------------------------ replay

std::string firstDifference(const Json& want, const Json& got) {
  if (want.type() != got.type()) return "(root)";
  if (want.is_object()) {
    for (auto it = want.begin(); it != want.end(); ++it) {
      if (!got.contains(it.key())) return it.key();
      std::string d = firstDifference(it.value(), got[it.key()]);
      if (!d.empty()) return it.key() + (d == "(root)" ? "" : "." + d);
    }
    for (auto it = got.begin(); it != got.end(); ++it) {
      if (!want.contains(it.key())) return it.key();
    }
    return "";
  }
  if (want.is_array()) {
    for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
      std::string d = firstDifference(want[i], got[i]);
      if (!d.empty()) return "[" + std::to_string(i) + "]" + (d == "(root)" ? "" : "." + d);
    }
    return want.size() == got.size() ? "" : "[" + std::to_string(std::min(want.size(), got.size())) + "]";
  }
  return want == got ? "" : "(root)";
}

namespace {

struct RecordedCall {
  uint64_t n = 0;
  std::string op;
  Json args;
  Json result;
};

struct RecordedEvent {
  uint64_t handle = 0;
  uint32_t type = 0;
  std::string data;
  uint64_t after = 0;
};

// Field readers for a recording line: a field of the wrong type is an error.
Status lineError(size_t line, const std::string& what) {
  return InvalidArgumentError("recording line " + std::to_string(line) + ": " + what);
}

}  // namespace

struct ReplayHcsApi::State : std::enable_shared_from_this<ReplayHcsApi::State> {
  explicit State(runtime::EventLoop& l) : loop(l) {}
  runtime::EventLoop& loop;
  std::vector<RecordedCall> calls;  // by n
  std::vector<RecordedEvent> events;
  size_t next = 0;       // the next call expected
  uint64_t completed = 0;
  size_t nextEvent = 0;  // events delivered so far (in recorded order)
  std::string divergence;
  std::map<uint64_t, EventCallback> callbacks;  // recorded handle -> callback (systems and processes share numbers)

  // match checks call `op`(args) against the next recorded one; its result
  // document, or the divergence.
  StatusOr<Json> match(const std::string& op, const Json& args) {
    if (!divergence.empty()) return Status::fromHResult(hresult::kFail, op, "", "replay diverged earlier: " + divergence);
    if (next >= calls.size()) {
      divergence = "call #" + std::to_string(next) + ": the recording has no more calls, got " + op + " " + args.dump();
      return Status::fromHResult(hresult::kFail, op, "", divergence);
    }
    const RecordedCall& want = calls[next];
    std::string field;
    if (want.op != op) {
      divergence = "call #" + std::to_string(want.n) + ": expected " + want.op + ", got " + op;
    } else {
      for (auto it = want.args.begin(); it != want.args.end() && field.empty(); ++it) {
        const Json& w = it.value();
        const Json g = args.contains(it.key()) ? args[it.key()] : Json();
        if (w == g) continue;
        // Documents: compare what they mean, name the field.
        if (w.is_string() && g.is_string()) {
          auto wj = parseJson(w.get<std::string>());
          auto gj = parseJson(g.get<std::string>());
          if (wj.ok() && gj.ok()) {
            std::string d = firstDifference(*wj, *gj);
            if (d.empty()) continue;
            field = it.key() + (d == "(root)" ? "" : "." + d);
            continue;
          }
        }
        field = it.key();
      }
      if (!field.empty()) {
        divergence = "call #" + std::to_string(want.n) + " " + op + ": field " + field + ": expected " + want.args.dump() +
                     ", got " + args.dump();
      }
    }
    if (!divergence.empty()) return Status::fromHResult(hresult::kFail, op, "", "replay diverged at " + divergence);
    ++next;
    return want.result;
  }

  // completedOne: one more call has completed; deliver the events recorded
  // after as many completions (on the loop, as HCS's notifications arrive).
  void completedOne() {
    ++completed;
    while (nextEvent < events.size() && events[nextEvent].after <= completed) {
      RecordedEvent e = events[nextEvent++];
      loop.post([weak = weak_from_this(), e] {
        auto self = weak.lock();
        if (!self) return;
        auto it = self->callbacks.find(e.handle);
        if (it != self->callbacks.end() && it->second) {
          EventCallback cb = it->second;
          cb(Event{static_cast<EventType>(e.type), e.data});
        }
      });
    }
  }

  static Status statusOf(const Json& result) {
    std::string hr = result.contains("hr") && result["hr"].is_string() ? result["hr"].get<std::string>() : "0x00000000";
    HResult code = static_cast<HResult>(std::stoul(hr, nullptr, 16));
    if (code == hresult::kOk) return OkStatus();
    auto str = [&](const char* k) { return result.contains(k) && result[k].is_string() ? result[k].get<std::string>() : ""; };
    Status st = result.contains("code") && result["code"].is_number_integer()
                    ? Status::withCode(static_cast<Code>(result["code"].get<int>()), code, str("op"), str("id"), str("message"))
                    : Status::fromHResult(code, str("op"), str("id"), str("message"));
    if (!str("errorEvents").empty()) st = st.withErrorEvents(str("errorEvents"));
    return st;
  }
};

StatusOr<std::unique_ptr<ReplayHcsApi>> ReplayHcsApi::load(runtime::EventLoop& loop, std::string_view text) {
  auto s = std::make_shared<State>(loop);
  size_t lineNo = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++lineNo;
    if (line.empty()) continue;
    auto j = parseJson(line);
    if (!j.ok()) return lineError(lineNo, "not JSON (" + j.status().message() + ")");
    if (!j->is_object()) return lineError(lineNo, "not an object");
    const Json& o = *j;
    if (o.contains("event")) {
      const Json& e = o["event"];
      if (!e.is_object() || !e.contains("handle") || !e["handle"].is_number_unsigned() || !e.contains("type") ||
          !e["type"].is_number_unsigned() || !e.contains("data") || !e["data"].is_string() || !o.contains("after") ||
          !o["after"].is_number_unsigned()) {
        return lineError(lineNo, "an event needs handle, type, data and after");
      }
      s->events.push_back(RecordedEvent{e["handle"].get<uint64_t>(), e["type"].get<uint32_t>(), e["data"].get<std::string>(),
                                        o["after"].get<uint64_t>()});
      continue;
    }
    if (!o.contains("call") || !o["call"].is_number_unsigned() || !o.contains("op") || !o["op"].is_string() ||
        !o.contains("args") || !o["args"].is_object() || !o.contains("result") || !o["result"].is_object()) {
      return lineError(lineNo, "a call needs call, op, args and result");
    }
    const Json& r = o["result"];
    if (r.contains("hr")) {
      if (!r["hr"].is_string()) return lineError(lineNo, "result.hr is not a string");
      std::string hr = r["hr"].get<std::string>();
      if (hr.size() != 10 || hr.rfind("0x", 0) != 0 || hr.find_first_not_of("0123456789abcdefABCDEF", 2) != std::string::npos) {
        return lineError(lineNo, "result.hr \"" + hr + "\" is not 0x and 8 hex digits");
      }
    }
    for (const char* k : {"handle", "pid"}) {
      if (r.contains(k) && !r[k].is_number_unsigned()) return lineError(lineNo, std::string("result.") + k + " is not a number");
    }
    if (r.contains("value") && !r["value"].is_string()) return lineError(lineNo, "result.value is not a string");
    s->calls.push_back(RecordedCall{o["call"].get<uint64_t>(), o["op"].get<std::string>(), o["args"], r});
  }
  std::stable_sort(s->calls.begin(), s->calls.end(), [](const RecordedCall& a, const RecordedCall& b) { return a.n < b.n; });
  std::stable_sort(s->events.begin(), s->events.end(),
                   [](const RecordedEvent& a, const RecordedEvent& b) { return a.after < b.after; });
  return std::unique_ptr<ReplayHcsApi>(new ReplayHcsApi(std::move(s)));
}

ReplayHcsApi::~ReplayHcsApi() = default;
std::string ReplayHcsApi::divergence() const { return s_->divergence; }
size_t ReplayHcsApi::remaining() const { return s_->calls.size() - s_->next; }

namespace {

// answer: the recorded result of op(args), after a turn of the loop (an
// HCS call never completes inline).
Task<StatusOr<Json>> answer(std::shared_ptr<ReplayHcsApi::State> s, std::string op, Json args) {
  auto r = s->match(op, args);
  co_await runtime::yield(s->loop);
  if (r.ok()) s->completedOne();
  co_return r;
}

uint64_t number(const Json& r, const char* k) { return r.contains(k) ? r[k].get<uint64_t>() : 0; }

Task<Status> replayStatus(std::shared_ptr<ReplayHcsApi::State> s, std::string op, Json args) {
  auto r = co_await answer(s, std::move(op), std::move(args));
  if (!r.ok()) co_return r.status();
  co_return ReplayHcsApi::State::statusOf(*r);
}

Task<StatusOr<std::string>> replayValue(std::shared_ptr<ReplayHcsApi::State> s, std::string op, Json args) {
  auto r = co_await answer(s, std::move(op), std::move(args));
  if (!r.ok()) co_return r.status();
  Status st = ReplayHcsApi::State::statusOf(*r);
  if (!st.ok()) co_return st;
  co_return r->contains("value") ? (*r)["value"].get<std::string>() : std::string();
}

Task<StatusOr<uint64_t>> replayHandle(std::shared_ptr<ReplayHcsApi::State> s, std::string op, Json args) {
  auto r = co_await answer(s, std::move(op), std::move(args));
  if (!r.ok()) co_return r.status();
  Status st = ReplayHcsApi::State::statusOf(*r);
  if (!st.ok()) co_return st;
  co_return number(*r, "handle");
}

}  // namespace

Task<StatusOr<std::string>> ReplayHcsApi::enumerateComputeSystems(std::string query) {
  return replayValue(s_, "enumerateComputeSystems", Json{{"query", query}});
}
Task<StatusOr<SystemHandle>> ReplayHcsApi::createComputeSystem(std::string id, std::string configuration) {
  return replayHandle(s_, "createComputeSystem", Json{{"id", id}, {"configuration", configuration}});
}
Task<StatusOr<SystemHandle>> ReplayHcsApi::openComputeSystem(std::string id) {
  return replayHandle(s_, "openComputeSystem", Json{{"id", id}});
}

#define HCS_REPLAY_SYSTEM_OP(Method, name)                                                  \
  Task<Status> ReplayHcsApi::Method(SystemHandle system, std::string options) {             \
    return replayStatus(s_, name, Json{{"system", system}, {"options", options}});           \
  }
HCS_REPLAY_SYSTEM_OP(startComputeSystem, "startComputeSystem")
HCS_REPLAY_SYSTEM_OP(shutDownComputeSystem, "shutDownComputeSystem")
HCS_REPLAY_SYSTEM_OP(terminateComputeSystem, "terminateComputeSystem")
HCS_REPLAY_SYSTEM_OP(pauseComputeSystem, "pauseComputeSystem")
HCS_REPLAY_SYSTEM_OP(resumeComputeSystem, "resumeComputeSystem")
HCS_REPLAY_SYSTEM_OP(saveComputeSystem, "saveComputeSystem")
HCS_REPLAY_SYSTEM_OP(modifyComputeSystem, "modifyComputeSystem")
#undef HCS_REPLAY_SYSTEM_OP

Task<StatusOr<std::string>> ReplayHcsApi::getComputeSystemProperties(SystemHandle system, std::string query) {
  return replayValue(s_, "getComputeSystemProperties", Json{{"system", system}, {"query", query}});
}

Status ReplayHcsApi::setComputeSystemCallback(SystemHandle system, EventCallback callback) {
  s_->callbacks[system] = std::move(callback);
  return OkStatus();
}

void ReplayHcsApi::closeComputeSystem(SystemHandle system) {
  s_->callbacks.erase(system);
  if (s_->match("closeComputeSystem", Json{{"system", system}}).ok()) s_->completedOne();
}

Task<StatusOr<CreatedProcess>> ReplayHcsApi::createProcess(SystemHandle system, std::string parameters) {
  std::string op = "createProcess";
  Json args{{"system", system}, {"parameters", parameters}};
  auto r = co_await answer(s_, op, args);
  if (!r.ok()) co_return r.status();
  Status st = State::statusOf(*r);
  if (!st.ok()) co_return st;
  CreatedProcess p;
  p.handle = number(*r, "handle");
  p.pid = static_cast<uint32_t>(number(*r, "pid"));
  co_return p;
}

Task<StatusOr<ProcessHandle>> ReplayHcsApi::openProcess(SystemHandle system, uint32_t pid) {
  return replayHandle(s_, "openProcess", Json{{"system", system}, {"pid", pid}});
}
Task<Status> ReplayHcsApi::signalProcess(ProcessHandle process, std::string options) {
  return replayStatus(s_, "signalProcess", Json{{"process", process}, {"options", options}});
}
Task<Status> ReplayHcsApi::terminateProcess(ProcessHandle process) {
  return replayStatus(s_, "terminateProcess", Json{{"process", process}});
}
Task<StatusOr<std::string>> ReplayHcsApi::getProcessProperties(ProcessHandle process) {
  return replayValue(s_, "getProcessProperties", Json{{"process", process}});
}
Task<Status> ReplayHcsApi::modifyProcess(ProcessHandle process, std::string settings) {
  return replayStatus(s_, "modifyProcess", Json{{"process", process}, {"settings", settings}});
}

Status ReplayHcsApi::setProcessCallback(ProcessHandle process, EventCallback callback) {
  s_->callbacks[process] = std::move(callback);
  return OkStatus();
}

void ReplayHcsApi::closeProcess(ProcessHandle process) {
  s_->callbacks.erase(process);
  if (s_->match("closeProcess", Json{{"process", process}}).ok()) s_->completedOne();
}

}  // namespace hcsshim::hcs
