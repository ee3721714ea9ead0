#include "src/ttrpc/server.h"

#include "src/common/log.h"
#include "src/ttrpc/ttrpc.pb.h"

namespace hcsshim::ttrpc {

using runtime::Task;

std::string CallContext::metadataValue(std::string_view key) const {
  for (auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return {};
}

Status statusFromRpc(const RpcStatus& rpc) {
  int32_t code = rpc.code();
  if (code == 0) return OkStatus();
  if (code < 0 || code > 16) {
    return Status(Code::kUnknown, "ttrpc status code " + std::to_string(code) + ": " + rpc.message());
  }
  for (const auto& any : rpc.details()) {
    ErrorDetail d;
    if (any.type_url() == kErrorDetailType && d.ParseFromString(any.value())) {
      return Status::withCode(static_cast<Code>(code), d.hresult(), d.op(), d.id(), rpc.message())
          .withErrorEvents(d.error_events());
    }
  }
  return Status(static_cast<Code>(code), rpc.message());
}

void statusToRpc(const Status& status, RpcStatus* rpc) {
  if (status.ok()) return;
  rpc->set_code(static_cast<int32_t>(status.code()));
  // proto3 strings must be UTF-8; messages may quote hostile input.
  rpc->set_message(validUtf8(status.message()));
  // Only worth the bytes when the HRESULT says more than the code does.
  if (status.hresult() != hresultFromCode(status.code()) || !status.op().empty() || !status.id().empty() ||
      !status.errorEvents().empty()) {
    ErrorDetail d;
    d.set_hresult(status.hresult());
    d.set_op(validUtf8(status.op()));
    d.set_id(validUtf8(status.id()));
    d.set_error_events(status.errorEvents());
    auto* any = rpc->add_details();
    any->set_type_url(kErrorDetailType);
    any->set_value(d.SerializeAsString());
  }
}

struct Server::Conn {
  uint64_t id;
  std::unique_ptr<Channel> channel;
  runtime::PeerCredentials peer;
  uint32_t lastStreamId = 0;
  size_t active = 0;
  std::set<std::shared_ptr<bool>> inflight;  // cancelled flags of running calls
};

struct Server::State {
  runtime::Runtime& rt;
  ServerOptions options;
  std::map<std::string, std::map<std::string, Handler>> services;
  std::unique_ptr<runtime::Listener> listener;
  std::set<std::shared_ptr<Conn>> conns;
  uint64_t nextConnId = 1;
  bool shutdown = false;
  size_t activeCalls = 0;
  std::function<void(uint64_t)> onConnectionClosed;
};

namespace {

void sendResponse(Server::Conn& conn, uint32_t streamId, const Status& status, const std::string& payload);

}  // namespace

Server::Server(runtime::Runtime& rt, ServerOptions options)
    : state_(std::make_shared<State>(State{rt, options, {}, nullptr, {}, 1, false, 0, nullptr})) {}

Server::~Server() { shutdown(); }

void Server::registerMethod(const std::string& service, const std::string& method, Handler handler) {
  state_->services[service][method] = std::move(handler);
}

void Server::setConnectionClosedHandler(std::function<void(uint64_t)> fn) {
  state_->onConnectionClosed = std::move(fn);
}

size_t Server::connectionCount() const { return state_->conns.size(); }
size_t Server::activeCalls() const { return state_->activeCalls; }

void Server::shutdown() {
  auto& s = *state_;
  if (s.shutdown) return;
  s.shutdown = true;
  if (s.listener) s.listener->close();
  auto conns = s.conns;
  for (auto& c : conns) c->channel->close();
}

Task<void> Server::drainThenShutdown(runtime::Duration grace) {
  std::shared_ptr<State> state = state_;
  if (state->listener) state->listener->close();
  auto until = state->rt.loop().now() + grace;
  auto busy = [&] {
    if (state->activeCalls > 0) return true;
    for (const auto& c : state->conns) {
      if (!c->channel->closed() && c->channel->sending()) return true;
    }
    return false;
  };
  while (!state->shutdown && busy() && state->rt.loop().now() < until) {
    co_await runtime::sleep(state->rt.loop(), std::chrono::milliseconds(1));
  }
  shutdown();
}

Task<Status> Server::serve(std::unique_ptr<runtime::Listener> listener) {
  std::shared_ptr<State> state = state_;
  state->listener = std::move(listener);
  std::string address = state->listener->address();
  HLOG(Info, "ttrpc.server.serving").kv("address", address).kv("node", state->rt.name());
  while (!state->shutdown) {
    auto stream = co_await state->listener->accept();
    if (!stream.ok()) {
      if (state->shutdown || stream.status().code() == Code::kCancelled) break;
      HLOG(Warn, "ttrpc.server.accept_failed").kv("address", address).kv("err", stream.status());
      // Descriptor exhaustion and the like are transient: back off, do not spin.
      co_await runtime::sleep(state->rt.loop(), std::chrono::milliseconds(10));
      continue;
    }
    auto conn = std::make_shared<Conn>();
    conn->id = state->nextConnId++;
    auto creds = (*stream)->peerCredentials();
    std::string name = (*stream)->describe();
    if (creds.ok()) conn->peer = *creds;
    if (state->options.requireSameUser) {
      runtime::PeerCredentials self = state->rt.credentials();
      if (!creds.ok() || creds->uid != self.uid || creds->gid != self.gid) {
        HLOG(Warn, "ttrpc.server.peer_rejected")
            .kv("conn", conn->id)
            .kv("stream", name)
            .kv("peer_uid", creds.ok() ? static_cast<int64_t>(creds->uid) : -1)
            .kv("peer_gid", creds.ok() ? static_cast<int64_t>(creds->gid) : -1)
            .kv("want_uid", self.uid);
        (*stream)->close();
        continue;
      }
    }
    conn->channel = std::make_unique<Channel>(std::move(*stream), state->options.maxMessageSize);
    state->conns.insert(conn);
    HLOG(Debug, "ttrpc.server.conn_open").kv("conn", conn->id).kv("stream", name).kv("peer_pid", conn->peer.pid);
    runtime::spawn(runConnection(state, conn));
  }
  HLOG(Info, "ttrpc.server.stopped").kv("address", address);
  co_return OkStatus();
}

Task<void> Server::runConnection(std::shared_ptr<State> state, std::shared_ptr<Conn> conn) {
  Status end;
  for (;;) {
    auto frame = co_await conn->channel->recv();
    if (!frame.ok()) {
      end = frame.status();
      break;
    }
    const FrameHeader& h = frame->header;
    if (frame->oversize) {
      sendResponse(*conn, h.streamId,
                   ResourceExhaustedError("message length " + std::to_string(h.length) +
                                          " exceeds maximum message size of " +
                                          std::to_string(state->options.maxMessageSize)),
                   {});
      continue;
    }
    if (h.type != static_cast<uint8_t>(MessageType::kRequest)) {
      // Unknown types are ignored for forward compatibility (as ttrpc does).
      HLOG(Debug, "ttrpc.server.ignored_frame").kv("conn", conn->id).kv("type", h.type).kv("stream", h.streamId);
      continue;
    }
    if (h.streamId % 2 != 1) {
      sendResponse(*conn, h.streamId, InvalidArgumentError("StreamID must be odd for client initiated streams"), {});
      continue;
    }
    if (h.streamId <= conn->lastStreamId) {
      sendResponse(*conn, h.streamId, InvalidArgumentError("StreamID cannot be re-used and must increment"), {});
      continue;
    }
    conn->lastStreamId = h.streamId;
    Request req;
    if (!req.ParseFromString(frame->payload)) {
      sendResponse(*conn, h.streamId, InvalidArgumentError("unmarshal request error: invalid protobuf"), {});
      continue;
    }
    auto svc = state->services.find(req.service());
    if (svc == state->services.end()) {
      sendResponse(*conn, h.streamId, UnimplementedError("service " + req.service()), {});
      continue;
    }
    auto m = svc->second.find(req.method());
    if (m == svc->second.end()) {
      sendResponse(*conn, h.streamId, UnimplementedError("method " + req.method()), {});
      continue;
    }
    CallContext ctx;
    ctx.service = req.service();
    ctx.method = req.method();
    ctx.streamId = h.streamId;
    ctx.connectionId = conn->id;
    ctx.peer = conn->peer;
    for (const auto& kv : req.metadata()) ctx.metadata.emplace_back(kv.key(), kv.value());
    if (req.timeout_nano() > 0) ctx.deadline = state->rt.loop().now() + runtime::Duration(req.timeout_nano());
    runtime::spawn(runCall(state, conn, std::move(ctx), &m->second, std::move(*req.mutable_payload())));
  }
  bool clean = runtime::isCleanEof(end) || end.code() == Code::kCancelled;
  if (clean) {
    HLOG(Debug, "ttrpc.server.conn_closed").kv("conn", conn->id);
  } else {
    HLOG(Warn, "ttrpc.server.conn_failed").kv("conn", conn->id).kv("err", end);
  }
  conn->channel->close();
  for (auto& flag : conn->inflight) *flag = true;
  state->conns.erase(conn);
  if (state->onConnectionClosed) state->onConnectionClosed(conn->id);
}

Task<void> Server::runCall(std::shared_ptr<State> state, std::shared_ptr<Conn> conn, CallContext ctx,
                           const Handler* handler, std::string payload) {
  ++state->activeCalls;
  ++conn->active;
  auto answered = std::make_shared<bool>(false);
  std::shared_ptr<bool> cancelled = ctx.cancelled;
  conn->inflight.insert(cancelled);
  runtime::TimerId timer = 0;
  uint32_t streamId = ctx.streamId;
  if (ctx.deadline) {
    runtime::Duration left = *ctx.deadline - state->rt.loop().now();
    std::weak_ptr<Conn> weakConn = conn;
    timer = state->rt.loop().addTimer(left, [weakConn, answered, cancelled, streamId] {
      if (*answered) return;
      *answered = true;
      *cancelled = true;
      if (auto c = weakConn.lock()) sendResponse(*c, streamId, DeadlineExceededError("context deadline exceeded"), {});
    });
  }
  HLOG(Debug, "ttrpc.server.call").kv("conn", conn->id).kv("stream", streamId).kv("method", ctx.service + "/" + ctx.method);
  // A handler that throws is a bug, but it must cost one call, not the daemon.
  StatusOr<std::string> result = InternalError("handler did not complete");
  try {
    result = co_await (*handler)(ctx, std::move(payload));
  } catch (const std::exception& e) {
    HLOG(Error, "ttrpc.server.handler_threw").kv("method", ctx.service + "/" + ctx.method).kv("what", e.what());
    result = InternalError(std::string("ttrpc: handler failed: ") + e.what());
  } catch (...) {
    HLOG(Error, "ttrpc.server.handler_threw").kv("method", ctx.service + "/" + ctx.method);
    result = InternalError("ttrpc: handler failed");
  }
  if (timer) state->rt.loop().cancelTimer(timer);
  if (!*answered && !conn->channel->closed()) {
    *answered = true;
    if (result.ok()) {
      sendResponse(*conn, streamId, OkStatus(), *result);
    } else {
      sendResponse(*conn, streamId, result.status(), {});
    }
  }
  conn->inflight.erase(cancelled);
  --conn->active;
  --state->activeCalls;
}

namespace {

void sendResponse(Server::Conn& conn, uint32_t streamId, const Status& status, const std::string& payload) {
  Response resp;
  if (!status.ok()) statusToRpc(status, resp.mutable_status());
  resp.set_payload(payload);
  std::string out;
  resp.SerializeToString(&out);
  Status st = conn.channel->send(streamId, MessageType::kResponse, 0, out);
  if (!st.ok() && st.code() == Code::kResourceExhausted) {
    // The handler's answer is too big for the wire: tell the caller so.
    Response err;
    err.mutable_status()->set_code(static_cast<int32_t>(Code::kResourceExhausted));
    err.mutable_status()->set_message(st.message());
    err.SerializeToString(&out);
    st = conn.channel->send(streamId, MessageType::kResponse, 0, out);
  }
  if (!st.ok()) HLOG(Debug, "ttrpc.server.send_failed").kv("conn", conn.id).kv("stream", streamId).kv("err", st);
}

}  // namespace

}  // namespace hcsshim::ttrpc
