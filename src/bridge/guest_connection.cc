#include "src/bridge/guest_connection.h"

#include <csignal>

#include "src/common/guid.h"
#include "src/common/log.h"

namespace hcsshim::bridge {

using runtime::Task;

namespace hr = hresult;

struct ConnectionState {
  ConnectionState(runtime::EventLoop& l, std::unique_ptr<runtime::Stream> stream, VsockHost& v, std::string id,
                  GuestConnectionOptions o)
      : loop(l), conn(std::move(stream)), vsock(v), vmId(std::move(id)), options(o) {}
  runtime::EventLoop& loop;
  Connection conn;
  VsockHost& vsock;
  std::string vmId;
  GuestConnectionOptions options;
  uint64_t nextId = 1;
  uint32_t nextPort = kFirstStdioPort;
  struct Pending {
    uint32_t type;
    runtime::Oneshot<StatusOr<Frame>> done;
  };
  std::map<uint64_t, Pending> pending;
  Status lost;  // why the connection is gone (OK while it is up)
  NegotiateProtocolResponse negotiated;
  std::map<std::string, ContainerNotification> exits;
  runtime::WaitList exitsChanged;
  std::function<void(const ContainerNotification&)> onNotification;
  bool readerRunning = false;
  bool closeExpected = false;  // the VM is shutting down: EOF is no loss
};

namespace {

std::string activityIdFor(uint64_t requestId) {
  // Deterministic (no randomness seam needed): unique per request of a connection.
  return Guid(0x6763735f, 0x6272, 0x6467, {0, 0, static_cast<uint8_t>(requestId >> 40), static_cast<uint8_t>(requestId >> 32),
                                           static_cast<uint8_t>(requestId >> 24), static_cast<uint8_t>(requestId >> 16),
                                           static_cast<uint8_t>(requestId >> 8), static_cast<uint8_t>(requestId)})
      .toString();
}

void failAll(ConnectionState& s, const Status& reason, bool deliberate = false) {
  // Once lost, the first reason stands; requests still pending (registered
  // while the loss was being handled) fail with it too.
  bool first = s.lost.ok();
  if (first) {
    s.lost = reason;
    if (deliberate) {
      HLOG(Info, "bridge.connection.closed").kv("vm", s.vmId).kv("pending", s.pending.size());
    } else {
      HLOG(Warn, "bridge.connection.lost").kv("vm", s.vmId).kv("error", reason.toString()).kv("pending", s.pending.size());
    }
  }
  const Status why = s.lost;
  if (first) s.conn.close();
  auto pending = std::move(s.pending);
  s.pending.clear();
  for (auto& [id, p] : pending) {
    p.done.set(Status::fromHResult(why.hresult() != hr::kOk ? why.hresult() : hr::kHcsConnectionClosed,
                                   typeName(p.type), s.vmId,
                                   "request " + std::to_string(id) + " failed: " + why.message()));
  }
  s.exitsChanged.notifyAll();
}

void handleNotification(ConnectionState& s, const Frame& f) {
  auto n = schema::decode<ContainerNotification>(std::string_view(f.payload));
  if (!n.ok()) {
    HLOG(Warn, "bridge.notification.invalid").kv("vm", s.vmId).kv("error", n.status().message());
    return;
  }
  HLOG(Info, "bridge.notification").kv("vm", s.vmId).kv("container", n->containerId).kv("type", n->type)
      .kv("result", n->result);
  if (s.onNotification) s.onNotification(*n);
  if (n->type == "GracefulExit" || n->type == "ForcedExit" || n->type == "UnexpectedExit") {
    s.exits[n->containerId] = *n;
    s.exitsChanged.notifyAll();
  }
}

Task<void> readLoop(std::shared_ptr<ConnectionState> s) {
  s->readerRunning = true;
  while (s->lost.ok()) {
    auto f = co_await s->conn.recv();
    if (!f.ok()) {
      if (s->lost.ok()) {
        failAll(*s,
                Status::fromHResult(hr::kHcsConnectionClosed, "bridge", s->vmId,
                                    (s->closeExpected ? "the guest closed the bridge (the VM is shutting down): "
                                                      : "the bridge connection to the guest was lost: ") +
                                        f.status().message()),
                /*deliberate=*/s->closeExpected);
      }
      break;
    }
    switch (kindOf(f->header.type)) {
      case Kind::kResponse: {
        auto it = s->pending.find(f->header.id);
        if (it == s->pending.end()) {
          HLOG(Warn, "bridge.response.unexpected").kv("vm", s->vmId).kv("id", f->header.id)
              .kv("type", typeName(f->header.type));
          break;
        }
        auto p = std::move(it->second);
        s->pending.erase(it);
        if (f->header.type != responseTypeOf(p.type)) {
          p.done.set(Status::fromHResult(hr::kHcsProtocolError, typeName(p.type), s->vmId,
                                         "the guest answered with " + typeName(f->header.type)));
        } else {
          p.done.set(std::move(*f));
        }
        break;
      }
      case Kind::kNotification:
        handleNotification(*s, *f);
        break;
      default:
        HLOG(Warn, "bridge.message.unexpected").kv("vm", s->vmId).kv("type", typeName(f->header.type));
        break;
    }
  }
  s->readerRunning = false;
}

// call sends one request and returns the response payload once its Result says success.
Task<StatusOr<std::string>> call(std::shared_ptr<ConnectionState> s, uint32_t type, std::string containerId,
                                 Json payload, bool timed = true) {
  const std::string op = typeName(type);
  if (!s->lost.ok()) {
    co_return Status::fromHResult(hr::kHcsConnectionClosed, op, s->vmId, "no bridge connection: " + s->lost.message());
  }
  uint64_t id = s->nextId++;
  if (!payload.is_object()) payload = Json::object();
  payload["ContainerId"] = containerId;
  payload["ActivityId"] = activityIdFor(id);
  // Pending before it is sent: sending can lose the connection on the spot
  // (the write fails, the reader is resumed inline and fails every pending
  // request) - this one must be among them, not wait forever.
  auto& p = s->pending[id];
  p.type = type;
  runtime::Oneshot<StatusOr<Frame>> done = p.done;
  if (Status sent = s->conn.send(type, id, jsonText(payload)); !sent.ok()) {
    s->pending.erase(id);
    co_return sent.withContext(op, s->vmId);
  }
  runtime::TimerId timer = 0;
  if (timed) {
    timer = s->loop.addTimer(s->options.requestTimeout, [w = std::weak_ptr<ConnectionState>(s), id, op] {
      auto s = w.lock();
      if (!s || !s->pending.count(id)) return;
      // As the real host does: a request that never completes kills the bridge.
      failAll(*s, Status::fromHResult(hr::kHcsConnectionTimeout, op, s->vmId,
                                      "request " + std::to_string(id) + " timed out; the bridge was closed"));
    });
  }
  auto f = co_await done;
  if (timer) s->loop.cancelTimer(timer);
  if (!f.ok()) co_return f.status();
  auto r = schema::decode<ResponseBase>(std::string_view(f->payload));
  if (!r.ok()) {
    co_return Status::fromHResult(hr::kHcsProtocolError, op, s->vmId, "malformed response: " + r.status().message());
  }
  HCS_CO_RETURN_IF_ERROR(statusFromResponse(*r, op, containerId));
  co_return std::move(f->payload);
}

template <typename T>
Task<StatusOr<T>> callAs(std::shared_ptr<ConnectionState> s, uint32_t type, std::string containerId, Json payload,
                         bool timed = true) {
  auto raw = co_await call(s, type, containerId, std::move(payload), timed);
  if (!raw.ok()) co_return raw.status();
  auto r = schema::decode<T>(std::string_view(*raw));
  if (!r.ok()) {
    co_return Status::fromHResult(hr::kHcsProtocolError, typeName(type), s->vmId,
                                  "malformed response: " + r.status().message());
  }
  co_return std::move(*r);
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> acceptOne(runtime::EventLoop& loop, runtime::Listener& l,
                                                           runtime::Duration timeout, std::string what,
                                                           std::string vmId) {
  return runtime::withTimeout(loop, l.accept(), timeout, [what, vmId]() -> StatusOr<std::unique_ptr<runtime::Stream>> {
    return Status::fromHResult(hr::kHcsConnectionTimeout, "accept", vmId, "the guest did not connect " + what);
  });
}

}  // namespace

// ---- GuestConnection ----

Task<StatusOr<std::unique_ptr<GuestConnection>>> GuestConnection::accept(runtime::EventLoop& loop,
                                                                         runtime::Listener& bridgeListener,
                                                                         VsockHost& vsock, std::string vmId,
                                                                         GuestConnectionOptions options) {
  auto stream = co_await acceptOne(loop, bridgeListener, options.connectTimeout, "to the bridge port", vmId);
  if (!stream.ok()) co_return stream.status();
  HLOG(Debug, "bridge.guest_connected").kv("vm", vmId);
  co_return co_await over(loop, std::move(*stream), vsock, vmId, options);
}

Task<StatusOr<std::unique_ptr<GuestConnection>>> GuestConnection::over(runtime::EventLoop& loop,
                                                                       std::unique_ptr<runtime::Stream> stream,
                                                                       VsockHost& vsock, std::string vmId,
                                                                       GuestConnectionOptions options) {
  auto s = std::make_shared<ConnectionState>(loop, std::move(stream), vsock, vmId, options);
  runtime::spawn(readLoop(s));
  std::unique_ptr<GuestConnection> gc(new GuestConnection(s));
  // (Named locals, not temporaries, in co_await expressions: GCC 12
  // mis-destroys aggregate temporaries there.)
  NegotiateProtocolRequest req;
  req.minimumVersion = kProtocolVersion;
  req.maximumVersion = kProtocolVersion;
  Json payload = schema::encode(req);
  std::string uvm(kUvmContainerId);
  auto neg = co_await callAs<NegotiateProtocolResponse>(s, msg::kNegotiateProtocol, uvm, std::move(payload));
  if (!neg.ok()) co_return neg.status();
  if (neg->version != kProtocolVersion) {
    co_return Status::fromHResult(hr::kVmcomputeUnsupportedProtocolVersion, "NegotiateProtocol", vmId,
                                  "the guest chose protocol version " + std::to_string(neg->version));
  }
  s->negotiated = std::move(*neg);
  HLOG(Info, "bridge.negotiated").kv("vm", vmId).kv("version", s->negotiated.version);
  co_return gc;
}

GuestConnection::~GuestConnection() { close(); }

const std::string& GuestConnection::vmId() const { return s_->vmId; }
const NegotiateProtocolResponse& GuestConnection::negotiated() const { return s_->negotiated; }
bool GuestConnection::closed() const { return !s_->lost.ok(); }
Status GuestConnection::lostReason() const { return s_->lost; }
size_t GuestConnection::pendingRequests() const { return s_->pending.size(); }
void GuestConnection::onNotification(std::function<void(const ContainerNotification&)> fn) {
  s_->onNotification = std::move(fn);
}

void GuestConnection::expectClose() { s_->closeExpected = true; }

void GuestConnection::close() {
  failAll(*s_, Status::fromHResult(hr::kHcsConnectionClosed, "close", s_->vmId, "the bridge connection was closed"),
          /*deliberate=*/true);
}

Task<StatusOr<std::string>> GuestConnection::request(uint32_t type, std::string containerId, Json payload) {
  return call(s_, type, std::move(containerId), std::move(payload));
}

Task<Status> GuestConnection::createContainer(std::string id, ContainerConfig config) {
  if (!config.schemaVersion) config.schemaVersion = schema::Version{2, 1, {}};
  CreateContainerRequest req;
  req.containerConfig = jsonText(schema::encode(config));
  co_return (co_await call(s_, msg::kCreate, id, schema::encode(req))).status();
}

Task<Status> GuestConnection::startContainer(std::string id) {
  co_return (co_await call(s_, msg::kStart, id, Json::object())).status();
}

Task<Status> GuestConnection::shutdownContainer(std::string id, bool forced) {
  co_return (co_await call(s_, forced ? msg::kShutdownForced : msg::kShutdownGraceful, id, Json::object())).status();
}

Task<Status> GuestConnection::deleteContainerState(std::string id) {
  co_return (co_await call(s_, msg::kDeleteContainerState, id, Json::object())).status();
}

Task<Status> GuestConnection::updateContainer(std::string id, Json resources) {
  Json payload = Json::object();
  payload["Resources"] = std::move(resources);
  co_return (co_await call(s_, msg::kUpdateContainer, id, std::move(payload))).status();
}

Task<Status> GuestConnection::modifySettings(std::string containerId, ModifyRequest request) {
  ModifySettingsRequest req;
  req.request = std::move(request);
  co_return (co_await call(s_, msg::kModifySettings, containerId, schema::encode(req))).status();
}

Task<StatusOr<GuestProperties>> GuestConnection::getProperties(std::string containerId, schema::PropertyQuery query) {
  GetPropertiesRequest req;
  req.query = jsonText(schema::encode(query));
  auto r = co_await callAs<GetPropertiesResponse>(s_, msg::kGetProperties, containerId, schema::encode(req));
  if (!r.ok()) co_return r.status();
  if (r->properties.empty()) co_return GuestProperties{};
  auto p = schema::decode<GuestProperties>(std::string_view(r->properties));
  if (!p.ok()) co_return Status::fromHResult(hr::kHcsProtocolError, "GetProperties", containerId, p.status().message());
  co_return std::move(*p);
}

Task<StatusOr<std::string>> GuestConnection::dumpStacks() {
  std::string uvm(kUvmContainerId);
  auto r = co_await callAs<DumpStacksResponse>(s_, msg::kDumpStacks, uvm, Json::object());
  if (!r.ok()) co_return r.status();
  co_return std::move(r->guestStacks);
}

Task<StatusOr<ContainerNotification>> GuestConnection::waitForExit(std::string containerId) {
  std::shared_ptr<ConnectionState> s = s_;
  for (;;) {
    auto it = s->exits.find(containerId);
    if (it != s->exits.end()) co_return it->second;
    if (!s->lost.ok()) co_return s->lost;
    co_await s->exitsChanged.wait();
  }
}

Task<StatusOr<std::unique_ptr<GuestProcess>>> GuestConnection::executeProcess(std::string containerId,
                                                                              ProcessParameters params,
                                                                              StdioRequest stdio) {
  std::shared_ptr<ConnectionState> s = s_;
  // The host listens on fresh ports; the guest dials them before it answers.
  std::unique_ptr<runtime::Listener> listeners[3];
  StdioRelaySettings relay;
  bool want[3] = {stdio.in, stdio.out, stdio.err};
  std::optional<uint32_t>* ports[3] = {&relay.stdIn, &relay.stdOut, &relay.stdErr};
  for (int i = 0; i < 3; ++i) {
    if (!want[i]) continue;
    uint32_t port = s->nextPort++;
    auto l = s->vsock.listen(port);
    if (!l.ok()) co_return l.status().withContext("ExecuteProcess", s->vmId);
    listeners[i] = std::move(*l);
    *ports[i] = port;
  }
  params.createStdInPipe = stdio.in;
  params.createStdOutPipe = stdio.out;
  params.createStdErrPipe = stdio.err;
  ExecuteProcessRequest req;
  req.settings.processParameters = jsonText(schema::encode(params));
  req.settings.vsockStdioRelaySettings = relay;
  auto r = co_await callAs<ExecuteProcessResponse>(s, msg::kExecuteProcess, containerId, schema::encode(req));
  if (!r.ok()) co_return r.status();
  std::unique_ptr<GuestProcess> p(new GuestProcess(s, containerId, r->processId));
  std::unique_ptr<runtime::Stream>* slots[3] = {&p->stdin_, &p->stdout_, &p->stderr_};
  const char* names[3] = {"for stdin", "for stdout", "for stderr"};
  for (int i = 0; i < 3; ++i) {
    if (!listeners[i]) continue;
    auto st = co_await acceptOne(s->loop, *listeners[i], s->options.connectTimeout, names[i], s->vmId);
    listeners[i]->close();
    if (!st.ok()) co_return st.status();
    *slots[i] = std::move(*st);
  }
  HLOG(Info, "bridge.process.started").kv("vm", s->vmId).kv("container", containerId).kv("pid", r->processId);
  co_return p;
}

// ---- GuestProcess ----

GuestProcess::~GuestProcess() {
  for (auto* s : {&stdin_, &stdout_, &stderr_}) {
    if (*s) (*s)->close();
  }
}

std::unique_ptr<runtime::Stream> GuestProcess::takeStdio(int fd) {
  switch (fd) {
    case 0: return std::move(stdin_);
    case 1: return std::move(stdout_);
    case 2: return std::move(stderr_);
    default: return nullptr;
  }
}

Status GuestProcess::closeStdin() {
  if (!stdin_) return FailedPreconditionError("process " + std::to_string(pid_) + " has no stdin");
  return stdin_->shutdownWrite();
}

Task<StatusOr<uint32_t>> GuestProcess::wait(uint32_t timeoutMs) {
  WaitForProcessRequest req;
  req.processId = pid_;
  req.timeoutInMs = timeoutMs;
  auto r = co_await callAs<WaitForProcessResponse>(conn_, msg::kWaitForProcess, containerId_, schema::encode(req),
                                                   /*timed=*/timeoutMs != WaitForProcessRequest::kInfinite);
  if (!r.ok()) co_return r.status();
  co_return r->exitCode;
}

Task<Status> GuestProcess::signal(int sig) {
  SignalProcessRequest req;
  req.processId = pid_;
  req.options = SignalProcessOptions{sig, {}};
  co_return (co_await call(conn_, msg::kSignalProcess, containerId_, schema::encode(req))).status();
}

Task<Status> GuestProcess::resizeConsole(uint16_t height, uint16_t width) {
  ResizeConsoleRequest req;
  req.processId = pid_;
  req.height = height;
  req.width = width;
  co_return (co_await call(conn_, msg::kResizeConsole, containerId_, schema::encode(req))).status();
}

}  // namespace hcsshim::bridge
