#include "hcs_fake/qemu/qmp.h"

#include "src/common/log.h"

namespace hcsshim::hcs_fake {

namespace {

// Fields of what QEMU sent, whatever their types: a field of another type
// reads as absent (QEMU is outside the daemon; nlohmann's value() throws).
Json objectAt(const Json& j, const char* key) {
  if (!j.is_object()) return Json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : Json::object();
}

std::string stringAt(const Json& j, const char* key, std::string fallback = "") {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

int64_t intAt(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

using runtime::Task;

namespace {
constexpr size_t kMaxLine = 1 << 20;  // QMP replies (query-*) stay far below
}

Task<StatusOr<std::shared_ptr<QmpClient>>> QmpClient::connect(runtime::EventLoop& loop, runtime::Transport& transport,
                                                              std::string path, runtime::Duration timeout,
                                                              std::function<bool()> gone) {
  auto deadline = loop.now() + timeout;
  std::unique_ptr<runtime::Stream> s;
  std::string address = "unix://" + path;  // outlives the connect
  for (;;) {
    auto c = co_await transport.connect(address);
    if (c.ok()) {
      s = std::move(*c);
      break;
    }
    if (gone && gone()) co_return UnavailableError("QMP socket " + path + ": QEMU exited before serving it");
    if (loop.now() >= deadline) co_return UnavailableError("QMP socket " + path + ": " + c.status().message());
    co_await runtime::sleep(loop, std::chrono::milliseconds(20));
  }
  auto q = std::shared_ptr<QmpClient>(new QmpClient(loop, std::move(s)));
  auto greeting = co_await q->readLine();
  if (!greeting.ok()) co_return greeting.status();
  auto g = parseJson(*greeting);
  if (!g.ok() || !g->is_object() || !g->contains("QMP")) {
    co_return InvalidArgumentError("QMP socket " + path + ": not a QMP greeting: " + greeting->substr(0, 80));
  }
  Json v = objectAt(objectAt(objectAt(*g, "QMP"), "version"), "qemu");
  q->version_ = std::to_string(intAt(v, "major")) + "." + std::to_string(intAt(v, "minor")) + "." +
                std::to_string(intAt(v, "micro"));
  runtime::spawn(q->readLoop(q));
  auto caps = co_await q->execute("qmp_capabilities");
  if (!caps.ok()) co_return caps.status();
  co_return q;
}

QmpClient::~QmpClient() { close(); }

void QmpClient::close() {
  if (closed_) return;
  closed_ = true;
  stream_->close();
  failAll();
}

void QmpClient::failAll() {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.set(UnavailableError("QMP: QEMU is gone"));
  auto waiters = std::move(eventWaiters_);
  eventWaiters_.clear();
  for (auto& [name, w] : waiters) w.set(UnavailableError("QMP: QEMU is gone before event " + name));
}

Task<StatusOr<std::string>> QmpClient::readLine() {
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      co_return line;
    }
    if (buffer_.size() > kMaxLine) co_return InvalidArgumentError("QMP: a line longer than 1 MiB");
    char buf[4096];
    auto n = co_await stream_->read(std::span<char>(buf, sizeof buf));
    if (!n.ok()) co_return n.status();
    if (*n == 0) co_return UnavailableError("QMP: QEMU closed the socket");
    buffer_.append(buf, *n);
  }
}

Task<void> QmpClient::readLoop(std::shared_ptr<QmpClient> self) {
  while (!closed_) {
    auto line = co_await readLine();
    if (!line.ok()) break;
    if (line->empty()) continue;
    auto msg = parseJson(*line);
    if (!msg.ok() || !msg->is_object()) {
      HLOG(Warn, "hcs_fake.qmp.bad_line").kv("line", line->substr(0, 120));
      continue;
    }
    dispatch(*msg);
  }
  bool wasClosed = closed_;
  closed_ = true;
  failAll();
  if (!wasClosed && onClose_) onClose_();
  (void)self;
}

void QmpClient::dispatch(const Json& msg) {
  if (!msg.is_object()) return;
  if (msg.contains("event")) {
    std::string name = stringAt(msg, "event");
    Json data = msg.contains("data") ? msg["data"] : Json::object();
    auto range = eventWaiters_.equal_range(name);
    std::vector<runtime::Oneshot<StatusOr<Json>>> ws;
    for (auto it = range.first; it != range.second; ++it) ws.push_back(it->second);
    eventWaiters_.erase(range.first, range.second);
    for (auto& w : ws) w.set(data);
    if (onEvent_) onEvent_(name, data);
    return;
  }
  if (!msg.contains("id") || !msg["id"].is_number_unsigned()) return;
  auto it = pending_.find(msg["id"].get<uint64_t>());
  if (it == pending_.end()) return;
  auto done = it->second;
  pending_.erase(it);
  if (msg.contains("error")) {
    const Json& e = msg["error"];
    done.set(FailedPreconditionError(stringAt(e, "class", "Error") + ": " + stringAt(e, "desc")));
  } else {
    done.set(msg.contains("return") ? msg["return"] : Json::object());
  }
}

Task<StatusOr<Json>> QmpClient::execute(std::string command, Json arguments) {
  if (closed_) co_return UnavailableError("QMP: QEMU is gone (" + command + ")");
  uint64_t id = nextId_++;
  Json req = {{"execute", command}, {"id", id}};
  if (!arguments.empty()) req["arguments"] = arguments;
  runtime::Oneshot<StatusOr<Json>> done;
  pending_.emplace(id, done);  // registered before the write: the reply may come at once
  Status st = co_await stream_->write(req.dump() + "\n");
  if (!st.ok()) {
    pending_.erase(id);
    co_return st;
  }
  auto r = co_await done;
  if (!r.ok()) co_return Status(r.status().code(), command + ": " + r.status().message());
  co_return r;
}

Task<StatusOr<Json>> QmpClient::waitEvent(std::string name, runtime::Duration timeout) {
  if (closed_) co_return UnavailableError("QMP: QEMU is gone before event " + name);
  runtime::Oneshot<StatusOr<Json>> w;
  eventWaiters_.emplace(name, w);
  auto timer = loop_.addTimer(timeout, [w, name]() mutable {
    w.set(DeadlineExceededError("QMP: no " + name + " event in time"));
  });
  auto r = co_await w;
  loop_.cancelTimer(timer);
  co_return r;
}

}  // namespace hcsshim::hcs_fake
