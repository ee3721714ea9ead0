#include "hcs_fake/standin_service.h"

#include <cstring>
#include <map>
#include <set>

#include "src/common/json.h"
#include "src/common/log.h"
#include "src/runtime/buffered_stream.h"
#include "src/schema/hcs.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace hr = hresult;

namespace {

constexpr char kHello[] = "hcs-standin/1";

// Field readers that never throw on a client's types.
std::optional<std::string> str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}
std::optional<uint64_t> num(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<uint64_t>();
}

bool sameToken(const std::string& a, const std::string& b) {
  // Constant time in the token's length.
  unsigned diff = a.size() != b.size();
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0 && !a.empty();
}

// readLine: the next "\n"-terminated line (without it).
Task<StatusOr<std::string>> readLine(runtime::BufferedStream& in, size_t max) {
  size_t scanned = 0;
  for (;;) {
    const char* d = in.data();
    size_t n = in.unread();
    if (const void* nl = n > scanned ? std::memchr(d + scanned, '\n', n - scanned) : nullptr) {
      size_t len = static_cast<const char*>(nl) - d;
      if (len > max) co_return ResourceExhaustedError("a line longer than " + std::to_string(max) + " bytes");
      std::string line(d, len);
      in.consume(len + 1);
      co_return line;
    }
    scanned = n;
    if (n > max) co_return ResourceExhaustedError("a line longer than " + std::to_string(max) + " bytes");
    HCS_CO_RETURN_IF_ERROR(co_await in.fill(n + 1));
  }
}

std::optional<hns::HcnObject> hcnObject(const Json& req) {
  auto o = num(req, "object");
  if (!o || *o > static_cast<uint64_t>(hns::HcnObject::kRoute)) return std::nullopt;
  return static_cast<hns::HcnObject>(*o);
}

}  // namespace

struct StandinService::State {
  State(runtime::Runtime& r, FakeHcsService& h, FakeHns& n, std::string t)
      : rt(r), hcs(h), hns(n), token(std::move(t)) {}
  runtime::Runtime& rt;
  FakeHcsService& hcs;
  FakeHns& hns;
  std::string token;
  bool stopping = false;
  std::unique_ptr<runtime::Listener> listener;
  struct Conn;
  std::set<std::shared_ptr<Conn>> conns;
};

struct StandinService::State::Conn {
  Conn(runtime::Runtime& r, FakeHcsService& h, FakeHns& n, std::string t, std::unique_ptr<runtime::Stream> s)
      : rt(r), token(std::move(t)), hcs(h), hns(n), io(std::move(s)) {}
  runtime::Runtime& rt;
  std::string token;
  // A process's stdin relay, until its connection ends (a CloseHandle of
  // StdIn waits for it: the bytes before it reach the process first).
  struct Relay {
    bool done = false;
  };
  std::map<uint64_t, std::shared_ptr<Relay>> stdinRelays;
  InProcessHcs hcs;
  InProcessHns hns;
  runtime::BufferedStream io;
  std::string name;

  void send(const Json& j) { (void)io.send(jsonText(j) + "\n", ""); }
  void answer(uint64_t seq, const Status& st, Json extra = Json::object()) {
    extra["seq"] = seq;
    extra["hresult"] = st.ok() ? hr::kOk : st.hresult();
    if (!st.ok()) extra["document"] = schema::resultDocument(st);
    send(extra);
  }
};

namespace {

using Conn = StandinService::State::Conn;

Status badField(const std::string& call, const char* field) {
  return Status::fromHResult(hr::kInvalidArg, call, "", std::string("field \"") + field + "\" is missing or of the wrong type");
}

// relayStdio: a one-connection loopback listener for one stdio pipe of a
// process; the client proves itself with the token line, then bytes flow
// between the connection and the pipe (in: client -> process; out, err:
// process -> client) until either side ends. Returns the port.
StatusOr<uint64_t> relayStdio(const std::shared_ptr<Conn>& c, uint64_t process, std::string name,
                              std::unique_ptr<runtime::Stream> pipe) {
  HCS_ASSIGN_OR_RETURN(auto listener, c->rt.transport().listen("tcp://127.0.0.1:0"));
  std::string address = listener->address();
  uint64_t port = std::stoull(address.substr(address.rfind(':') + 1));
  std::shared_ptr<Conn::Relay> relay;
  if (name == "in") relay = c->stdinRelays[process] = std::make_shared<Conn::Relay>();
  runtime::spawn([](runtime::Runtime& rt, std::string token, std::string name, std::shared_ptr<runtime::Listener> l,
                    std::unique_ptr<runtime::Stream> pipe, std::shared_ptr<Conn::Relay> relay) -> Task<void> {
    struct Done {  // on every way out
      std::shared_ptr<Conn::Relay> r;
      ~Done() {
        if (r) r->done = true;
      }
    } done{relay};
    // Nobody comes within 30 s: the pipe is dropped (the process sees EOF or EPIPE).
    rt.loop().addTimer(std::chrono::seconds(30), [l] { l->close(); });
    auto accept_task = l->accept();
    auto peer = co_await std::move(accept_task);
    l->close();
    if (!peer.ok()) co_return;
    std::string line;
    char ch;
    while (line.size() <= token.size()) {
      auto read_task = (*peer)->read(std::span<char>(&ch, 1));
      auto n = co_await std::move(read_task);
      if (!n.ok() || *n == 0 || ch == '\n') break;
      line += ch;
    }
    if (!sameToken(line, token)) {
      HLOG(Warn, "hcs_fake.standin.stdio_refused").kv("stream", name);
      (*peer)->close();
      co_return;
    }
    if (name == "in") {
      auto copy_task = runtime::copyStream(**peer, *pipe);
      (void)co_await std::move(copy_task);
      (void)pipe->shutdownWrite();
      pipe->close();
    } else {
      auto copy_task = runtime::copyStream(*pipe, **peer);
      (void)co_await std::move(copy_task);
      (void)(*peer)->shutdownWrite();
    }
    (*peer)->close();
  }(c->rt, c->token, std::move(name), std::shared_ptr<runtime::Listener>(std::move(listener)), std::move(pipe),
     relay));
  return port;
}

// call runs one request and answers it.
Task<void> call(std::shared_ptr<Conn> c, Json req) {
  uint64_t seq = num(req, "seq").value_or(0);
  std::string verb = str(req, "call").value_or("");
  std::string doc = str(req, "document").value_or("");
  std::optional<uint64_t> handle = num(req, "handle");
  auto needHandle = [&]() -> Status { return handle ? OkStatus() : badField(verb, "handle"); };
  using Sys = Task<Status> (hcs::HcsApi::*)(hcs::SystemHandle, std::string);
  static const std::map<std::string, Sys> systemOps = {
      {"start", &hcs::HcsApi::startComputeSystem},       {"shutdown", &hcs::HcsApi::shutDownComputeSystem},
      {"terminate", &hcs::HcsApi::terminateComputeSystem}, {"pause", &hcs::HcsApi::pauseComputeSystem},
      {"resume", &hcs::HcsApi::resumeComputeSystem},     {"save", &hcs::HcsApi::saveComputeSystem},
      {"modify", &hcs::HcsApi::modifyComputeSystem},     {"signalProcess", &hcs::HcsApi::signalProcess},
      {"modifyProcess", &hcs::HcsApi::modifyProcess}};
  if (auto op = systemOps.find(verb); op != systemOps.end()) {
    if (Status st = needHandle(); !st.ok()) co_return c->answer(seq, st);
    if (auto relay = c->stdinRelays.find(*handle); verb == "modifyProcess" && relay != c->stdinRelays.end()) {
      // Closing a relayed stdin: after the bytes sent before it (the
      // relay ends at its connection's EOF), or after 10 s without one.
      auto closing = parseJson(doc);
      if (closing.ok() && closing->is_object() && str(*closing, "Operation") == "CloseHandle") {
        std::shared_ptr<Conn::Relay> r = relay->second;
        auto deadline = c->rt.loop().now() + std::chrono::seconds(10);
        while (!r->done && c->rt.loop().now() < deadline) {
          auto tick = runtime::sleep(c->rt.loop(), std::chrono::milliseconds(5));
          co_await tick;
        }
        c->stdinRelays.erase(*handle);
      }
    }
    Status st = co_await (c->hcs.*(op->second))(*handle, doc);
    co_return c->answer(seq, st);
  }
  auto withDocument = [&](const StatusOr<std::string>& r) {
    c->answer(seq, r.status(), r.ok() ? Json{{"document", *r}} : Json::object());
  };
  auto withHandle = [&](const StatusOr<uint64_t>& r) {
    c->answer(seq, r.status(), r.ok() ? Json{{"handle", *r}} : Json::object());
  };
  if (verb == "enumerate") {
    auto r = co_await c->hcs.enumerateComputeSystems(doc);
    co_return withDocument(r);
  }
  if (verb == "create" || verb == "open") {
    auto id = str(req, "id");
    if (!id) co_return c->answer(seq, badField(verb, "id"));
    StatusOr<uint64_t> r = NotFoundError("");
    if (verb == "create") {
      r = co_await c->hcs.createComputeSystem(*id, doc);
    } else {
      r = co_await c->hcs.openComputeSystem(*id);
    }
    co_return withHandle(r);
  }
  if (verb == "properties" || verb == "processProperties") {
    if (Status st = needHandle(); !st.ok()) co_return c->answer(seq, st);
    StatusOr<std::string> r = NotFoundError("");
    if (verb == "properties") {
      r = co_await c->hcs.getComputeSystemProperties(*handle, doc);
    } else {
      r = co_await c->hcs.getProcessProperties(*handle);
    }
    co_return withDocument(r);
  }
  if (verb == "terminateProcess") {
    if (Status st = needHandle(); !st.ok()) co_return c->answer(seq, st);
    Status st = co_await c->hcs.terminateProcess(*handle);
    co_return c->answer(seq, st);
  }
  if (verb == "close" || verb == "closeProcess") {
    if (Status st = needHandle(); !st.ok()) co_return c->answer(seq, st);
    if (verb == "close") {
      c->hcs.closeComputeSystem(*handle);
    } else {
      c->hcs.closeProcess(*handle);
    }
    co_return c->answer(seq, OkStatus());
  }
  if (verb == "watch" || verb == "watchProcess") {
    if (Status st = needHandle(); !st.ok()) co_return c->answer(seq, st);
    std::weak_ptr<Conn> weak = c;
    uint64_t h = *handle;
    bool process = verb == "watchProcess";
    hcs::EventCallback cb = [weak, h, process](hcs::Event e) {
      auto conn = weak.lock();
      if (!conn) return;
      conn->send(Json{{"event", {{"handle", h}, {"process", process}, {"type", static_cast<uint32_t>(e.type)},
                                 {"data", e.eventData}}}});
    };
    Status st = verb == "watch" ? c->hcs.setComputeSystemCallback(h, std::move(cb))
                                : c->hcs.setProcessCallback(h, std::move(cb));
    co_return c->answer(seq, st);
  }
  if (verb == "createProcess") {
    if (Status st = needHandle(); !st.ok()) co_return c->answer(seq, st);
    auto r_task = c->hcs.createProcess(*handle, doc);
    auto r = co_await std::move(r_task);
    if (!r.ok()) co_return c->answer(seq, r.status());
    Json extra = {{"handle", r->handle}, {"pid", r->pid}};
    // Each stdio pipe the process has is a loopback port of its own.
    Json ports = Json::object();
    std::pair<const char*, std::unique_ptr<runtime::Stream>*> pipes[] = {
        {"in", &r->stdinStream}, {"out", &r->stdoutStream}, {"err", &r->stderrStream}};
    for (auto& [name, stream] : pipes) {
      if (!*stream) continue;
      auto port = relayStdio(c, r->handle, name, std::move(*stream));
      if (!port.ok()) {
        HLOG(Warn, "hcs_fake.standin.stdio_unavailable").kv("conn", c->name).kv("stream", name).kv("error", port.status().message());
        continue;
      }
      ports[name] = *port;
    }
    if (!ports.empty()) extra["stdio"] = ports;
    co_return c->answer(seq, OkStatus(), extra);
  }
  if (verb == "openProcess") {
    if (Status st = needHandle(); !st.ok()) co_return c->answer(seq, st);
    auto pid = num(req, "pid");
    if (!pid || *pid > 0xffffffffu) co_return c->answer(seq, badField(verb, "pid"));
    auto r = co_await c->hcs.openProcess(*handle, static_cast<uint32_t>(*pid));
    co_return withHandle(r);
  }
  if (verb.rfind("hcn.", 0) == 0) {
    auto object = hcnObject(req);
    if (!object) co_return c->answer(seq, badField(verb, "object"));
    std::string id = str(req, "id").value_or("");
    if (verb == "hcn.enumerate") {
      auto r = co_await c->hns.enumerate(*object, doc);
      co_return withDocument(r);
    }
    if (verb == "hcn.create") {
      auto r = co_await c->hns.create(*object, id, str(req, "network").value_or(""), doc);
      co_return withDocument(r);
    }
    if (verb == "hcn.query") {
      auto r = co_await c->hns.query(*object, id, doc);
      co_return withDocument(r);
    }
    if (verb == "hcn.modify") {
      Status st = co_await c->hns.modify(*object, id, doc);
      co_return c->answer(seq, st);
    }
    if (verb == "hcn.delete") {
      Status st = co_await c->hns.remove(*object, id);
      co_return c->answer(seq, st);
    }
  }
  if (verb == "hns.call") {
    auto r = co_await c->hns.hnsCall(str(req, "method").value_or(""), str(req, "path").value_or(""), doc);
    co_return withDocument(r);
  }
  c->answer(seq, Status::fromHResult(hr::kNotImpl, verb, "", "the stand-in service has no call \"" + verb + "\""));
}

// serveConnection: the hello, then requests until EOF or a protocol error.
Task<void> serveConnection(std::shared_ptr<StandinService::State> s, std::shared_ptr<Conn> c) {
  auto fail = [&](HResult code, std::string message) {
    // (A parser's message can quote the input: keep it short.)
    if (message.size() > 240) message = message.substr(0, 240) + "...";
    HLOG(Warn, "hcs_fake.standin.refused").kv("connection", c->name).kv("reason", message);
    c->answer(0, Status::fromHResult(code, "standin", c->name, message));
  };
  auto hello = co_await readLine(c->io, 4096);
  auto h = hello.ok() ? parseJson(*hello) : StatusOr<Json>(hello.status());
  if (!h.ok() || !h->is_object() || str(*h, "hello") != kHello || !sameToken(str(*h, "token").value_or(""), s->token)) {
    fail(hr::kAccessDenied, "want {\"hello\":\"" + std::string(kHello) + "\",\"token\":...} with the daemon's token");
  } else {
    c->answer(0, OkStatus());
    HLOG(Info, "hcs_fake.standin.connected").kv("connection", c->name);
    for (;;) {
      auto line = co_await readLine(c->io, StandinService::kMaxLine);
      if (!line.ok()) {
        if (line.status().code() == Code::kResourceExhausted) fail(hr::kInvalidArg, line.status().message());
        break;
      }
      auto req = parseJson(*line);
      if (!req.ok() || !req->is_object()) {
        fail(hr::kInvalidArg, "a line that is not a JSON object: " + (req.ok() ? std::string("wrong type") : req.status().message()));
        break;
      }
      runtime::spawn(call(c, std::move(*req)));
    }
  }
  (void)co_await c->io.drained();
  c->io.close();
  c->hcs.closeAll();
  s->conns.erase(c);
  HLOG(Info, "hcs_fake.standin.disconnected").kv("connection", c->name);
}

}  // namespace

StandinService::StandinService(runtime::Runtime& rt, FakeHcsService& hcs, FakeHns& hns, std::string token)
    : s_(std::make_shared<State>(rt, hcs, hns, std::move(token))) {}

StandinService::~StandinService() { shutdown(); }

Task<void> StandinService::serve(std::unique_ptr<runtime::Listener> listener) {
  std::shared_ptr<State> s = s_;
  s->listener = std::move(listener);
  uint64_t seq = 0;
  while (!s->stopping) {
    auto conn = co_await s->listener->accept();
    if (!conn.ok()) break;
    auto c = std::make_shared<Conn>(s->rt, s->hcs, s->hns, s->token, std::move(*conn));
    c->name = "standin#" + std::to_string(++seq);
    s->conns.insert(c);
    runtime::spawn(serveConnection(s, c));
  }
}

void StandinService::shutdown() {
  s_->stopping = true;
  if (s_->listener) s_->listener->close();
  auto conns = s_->conns;
  for (auto& c : conns) c->io.close();
}

size_t StandinService::connectionCount() const { return s_->conns.size(); }

}  // namespace hcsshim::hcs_fake
