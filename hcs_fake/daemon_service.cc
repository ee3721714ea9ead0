#include "hcs_fake/daemon_service.h"

#include <deque>
#include <filesystem>

#include "hcs_fake/api/hcs_fake.pb.h"
#include "src/common/log.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace pb = ::hcsshim::hcsfake::v1;

// Relay: one stdio stream relayed between a process and a client socket.
struct Relay {
  std::unique_ptr<runtime::Listener> listener;
  std::unique_ptr<runtime::Stream> processEnd;
  std::unique_ptr<runtime::Stream> clientEnd;
  bool done = false;
  // close ends both sides, so a pump waiting on either wakes up.
  void close() {
    if (listener) listener->close();
    if (processEnd) processEnd->close();
    if (clientEnd) clientEnd->close();
  }
};

struct DaemonService::Session {
  uint64_t connectionId = 0;
  std::unique_ptr<hcs::HcsApi> api;
  std::function<void()> closeAll, ended;
  std::deque<pb::Event> pending;
  runtime::WaitList waiters;
  bool closed = false;
  std::vector<std::shared_ptr<Relay>> relays;
};

struct DaemonService::State {
  runtime::Runtime& rt;
  SessionFactory factory;
  std::string stdioDir;
  std::map<uint64_t, std::shared_ptr<Session>> sessions;
  uint64_t relaySeq = 0;
  size_t activeRelays = 0;

  std::shared_ptr<Session> session(uint64_t conn) {
    auto& s = sessions[conn];
    if (!s) {
      s = std::make_shared<Session>();
      s->connectionId = conn;
      SessionApi made = factory(conn);
      s->api = std::move(made.api);
      s->closeAll = std::move(made.closeAll);
      s->ended = std::move(made.ended);
      HLOG(Debug, "hcs_fake.session.open").kv("conn", conn);
    }
    return s;
  }

  void closeSession(uint64_t conn) {
    auto it = sessions.find(conn);
    if (it == sessions.end()) return;
    auto s = it->second;
    sessions.erase(it);
    s->closed = true;
    if (s->closeAll) s->closeAll();
    if (s->ended) s->ended();
    for (auto& r : s->relays) r->close();
    s->waiters.notifyAll();
    HLOG(Debug, "hcs_fake.session.closed").kv("conn", conn);
  }
};

namespace {

// subscribe routes a handle's notifications into its session's queue.
hcs::EventCallback subscriber(std::weak_ptr<DaemonService::Session> weak, uint64_t handle) {
  return [weak, handle](const hcs::Event& e) {
    auto s = weak.lock();
    if (!s || s->closed) return;
    pb::Event ev;
    ev.set_handle(handle);
    ev.set_type(static_cast<uint32_t>(e.type));
    ev.set_event_data(e.eventData);
    s->pending.push_back(std::move(ev));
    s->waiters.notifyAll();
  };
}

// relay copies one direction between a process stdio stream and the client's
// relay socket, then closes what the other side must see closed.
Task<void> pump(runtime::Stream& from, runtime::Stream& to, bool closeToWithShutdown) {
  char buf[65536];
  for (;;) {
    auto n = co_await from.read(buf);
    if (!n.ok() || *n == 0) break;
    if (!(co_await to.write(std::string_view(buf, *n))).ok()) break;
  }
  if (closeToWithShutdown) {
    (void)to.shutdownWrite();
  } else {
    to.close();
  }
}

// serveRelay accepts the client's single connection for one stdio stream and
// pumps until either side ends; `active` counts running relays.
Task<void> serveRelay(std::shared_ptr<Relay> r, int which, size_t& active) {
  ++active;
  auto conn = co_await r->listener->accept();
  r->listener->close();  // one client per stream; also unlinks the socket file
  if (conn.ok() && !r->done) {
    r->clientEnd = std::move(*conn);
    if (which == 0) {
      co_await pump(*r->clientEnd, *r->processEnd, /*closeToWithShutdown=*/true);  // client -> process stdin
    } else {
      co_await pump(*r->processEnd, *r->clientEnd, /*closeToWithShutdown=*/true);  // process -> client
    }
  }
  r->done = true;
  r->close();
  --active;
}

template <typename Req>
Status parse(Req& req, const std::string& payload) {
  if (!req.ParseFromString(payload)) return InternalError("ttrpc: error unmarshalling payload");
  return OkStatus();
}

std::string serialize(const google::protobuf::MessageLite& m) { return m.SerializeAsString(); }

}  // namespace

DaemonService::DaemonService(runtime::Runtime& rt, FakeHcsService& service, ttrpc::Server& server, std::string stdioDir)
    : DaemonService(
          rt,
          [&service](uint64_t) {
            auto api = std::make_unique<InProcessHcs>(service);
            InProcessHcs* raw = api.get();
            return SessionApi{std::move(api), [raw] { raw->closeAll(); }, nullptr};
          },
          server, std::move(stdioDir)) {}

DaemonService::DaemonService(runtime::Runtime& rt, SessionFactory factory, ttrpc::Server& server, std::string stdioDir)
    : s_(std::make_shared<State>(State{rt, std::move(factory), std::move(stdioDir), {}, 0})) {
  std::shared_ptr<State> st = s_;
  server.setConnectionClosedHandler([weak = std::weak_ptr<State>(st)](uint64_t conn) {
    if (auto s = weak.lock()) s->closeSession(conn);
  });
  using Ctx = ttrpc::CallContext;
  auto reg = [&](const char* method, std::function<Task<StatusOr<std::string>>(std::shared_ptr<State>, Ctx&, std::string)> fn) {
    server.registerMethod(kHcsService, method,
                          [weak = std::weak_ptr<State>(st), fn](Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
                            auto s = weak.lock();
                            if (!s) return [](Status err) -> Task<StatusOr<std::string>> { co_return err; }(
                                       UnavailableError("the fake HCS is stopping"));
                            return fn(s, ctx, std::move(payload));
                          });
  };

  reg("Enumerate", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::EnumerateRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    auto session = s->session(ctx.connectionId);
    HCS_CO_ASSIGN_OR_RETURN(std::string doc, co_await session->api->enumerateComputeSystems(req.query()));
    pb::DocumentResponse resp;
    resp.set_document(doc);
    co_return serialize(resp);
  });

  auto systemHandleReply = [](std::shared_ptr<Session> session, hcs::SystemHandle h) {
    (void)session->api->setComputeSystemCallback(h, subscriber(session, h));
    pb::HandleResponse resp;
    resp.set_handle(h);
    return serialize(resp);
  };

  reg("CreateComputeSystem", [systemHandleReply](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::CreateRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    auto session = s->session(ctx.connectionId);
    HCS_CO_ASSIGN_OR_RETURN(hcs::SystemHandle h, co_await session->api->createComputeSystem(req.id(), req.configuration()));
    co_return systemHandleReply(session, h);
  });

  reg("OpenComputeSystem", [systemHandleReply](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::OpenRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    auto session = s->session(ctx.connectionId);
    HCS_CO_ASSIGN_OR_RETURN(hcs::SystemHandle h, co_await session->api->openComputeSystem(req.id()));
    co_return systemHandleReply(session, h);
  });

  using SystemOp = Task<Status> (hcs::HcsApi::*)(hcs::SystemHandle, std::string);
  auto systemOp = [&](const char* method, SystemOp op) {
    reg(method, [op](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
      pb::SystemRequest req;
      HCS_CO_RETURN_IF_ERROR(parse(req, payload));
      auto session = s->session(ctx.connectionId);
      HCS_CO_RETURN_IF_ERROR(co_await ((*session->api).*op)(req.handle(), req.options()));
      co_return serialize(pb::Empty());
    });
  };
  systemOp("StartComputeSystem", &hcs::HcsApi::startComputeSystem);
  systemOp("ShutDownComputeSystem", &hcs::HcsApi::shutDownComputeSystem);
  systemOp("TerminateComputeSystem", &hcs::HcsApi::terminateComputeSystem);
  systemOp("PauseComputeSystem", &hcs::HcsApi::pauseComputeSystem);
  systemOp("ResumeComputeSystem", &hcs::HcsApi::resumeComputeSystem);
  systemOp("SaveComputeSystem", &hcs::HcsApi::saveComputeSystem);
  systemOp("ModifyComputeSystem", &hcs::HcsApi::modifyComputeSystem);

  reg("GetComputeSystemProperties", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::SystemRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    auto session = s->session(ctx.connectionId);
    HCS_CO_ASSIGN_OR_RETURN(std::string doc, co_await session->api->getComputeSystemProperties(req.handle(), req.options()));
    pb::DocumentResponse resp;
    resp.set_document(doc);
    co_return serialize(resp);
  });

  reg("CloseComputeSystem", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::CloseRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    s->session(ctx.connectionId)->api->closeComputeSystem(req.handle());
    co_return serialize(pb::Empty());
  });

  reg("CreateProcess", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::CreateProcessRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    auto session = s->session(ctx.connectionId);
    HCS_CO_ASSIGN_OR_RETURN(hcs::CreatedProcess p, co_await session->api->createProcess(req.handle(), req.parameters()));
    (void)session->api->setProcessCallback(p.handle, subscriber(session, p.handle));
    pb::CreateProcessResponse resp;
    resp.set_handle(p.handle);
    resp.set_pid(p.pid);
    std::unique_ptr<runtime::Stream>* ends[3] = {&p.stdinStream, &p.stdoutStream, &p.stderrStream};
    static const char* kNames[3] = {"in", "out", "err"};
    for (int i = 0; i < 3; ++i) {
      if (!*ends[i]) continue;
      std::string path = s->stdioDir + "/" + std::to_string(ctx.connectionId) + "-" + std::to_string(++s->relaySeq) +
                         "-" + kNames[i] + ".sock";
      auto l = s->rt.transport().listen(path);
      if (!l.ok()) co_return l.status().withContext("CreateProcess", "stdio relay");
      auto relay = std::make_shared<Relay>();
      relay->listener = std::move(*l);
      relay->processEnd = std::move(*ends[i]);
      session->relays.push_back(relay);
      runtime::spawn(serveRelay(relay, i, s->activeRelays));
      if (i == 0) resp.set_stdin_socket(path);
      if (i == 1) resp.set_stdout_socket(path);
      if (i == 2) resp.set_stderr_socket(path);
    }
    co_return serialize(resp);
  });

  reg("OpenProcess", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::OpenProcessRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    auto session = s->session(ctx.connectionId);
    HCS_CO_ASSIGN_OR_RETURN(hcs::ProcessHandle h, co_await session->api->openProcess(req.handle(), req.pid()));
    (void)session->api->setProcessCallback(h, subscriber(session, h));
    pb::HandleResponse resp;
    resp.set_handle(h);
    co_return serialize(resp);
  });

  using ProcessOp = Task<Status> (hcs::HcsApi::*)(hcs::ProcessHandle, std::string);
  auto processOp = [&](const char* method, ProcessOp op) {
    reg(method, [op](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
      pb::ProcessRequest req;
      HCS_CO_RETURN_IF_ERROR(parse(req, payload));
      auto session = s->session(ctx.connectionId);
      HCS_CO_RETURN_IF_ERROR(co_await ((*session->api).*op)(req.handle(), req.options()));
      co_return serialize(pb::Empty());
    });
  };
  processOp("SignalProcess", &hcs::HcsApi::signalProcess);
  processOp("ModifyProcess", &hcs::HcsApi::modifyProcess);

  reg("TerminateProcess", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::ProcessRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    HCS_CO_RETURN_IF_ERROR(co_await s->session(ctx.connectionId)->api->terminateProcess(req.handle()));
    co_return serialize(pb::Empty());
  });

  reg("GetProcessProperties", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::ProcessRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    HCS_CO_ASSIGN_OR_RETURN(std::string doc, co_await s->session(ctx.connectionId)->api->getProcessProperties(req.handle()));
    pb::DocumentResponse resp;
    resp.set_document(doc);
    co_return serialize(resp);
  });

  reg("CloseProcess", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::CloseRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    s->session(ctx.connectionId)->api->closeProcess(req.handle());
    co_return serialize(pb::Empty());
  });

  reg("WaitEvents", [](std::shared_ptr<State> s, Ctx& ctx, std::string payload) -> Task<StatusOr<std::string>> {
    pb::WaitEventsRequest req;
    HCS_CO_RETURN_IF_ERROR(parse(req, payload));
    auto session = s->session(ctx.connectionId);
    while (session->pending.empty() && !session->closed) co_await session->waiters.wait();
    if (session->closed) co_return UnavailableError("the session has ended");
    pb::WaitEventsResponse resp;
    while (!session->pending.empty()) {
      *resp.add_events() = std::move(session->pending.front());
      session->pending.pop_front();
    }
    co_return serialize(resp);
  });
}

DaemonService::~DaemonService() { disconnectAll(); }

size_t DaemonService::sessionCount() const { return s_->sessions.size(); }
size_t DaemonService::activeRelays() const { return s_->activeRelays; }

void DaemonService::disconnectAll() {
  std::vector<uint64_t> conns;
  for (auto& [c, s] : s_->sessions) conns.push_back(c);
  for (auto c : conns) s_->closeSession(c);
}

}  // namespace hcsshim::hcs_fake
