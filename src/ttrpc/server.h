// server.h: a ttrpc server on the runtime seams.
//
// Services are registered by their wire names; handlers are coroutines, and
// requests on one connection run concurrently (a blocking Wait does not hold
// up other calls; responses go out in completion order).
//
//   ttrpc::Server server(runtime, {.requireSameUser = true});
//   server.registerUnary<shim::StateRequest, shim::StateResponse>(
//       "containerd.task.v2.Task", "State",
//       [&](ttrpc::CallContext& ctx, const shim::StateRequest& req) -> Task<StatusOr<shim::StateResponse>> {...});
//   auto listener = runtime.transport().listen(address);
//   spawn(server.serve(std::move(*listener)));
//
// Protocol errors follow containerd/ttrpc: unknown service or method ->
// Unimplemented (12); a Request that does not decode -> InvalidArgument (3);
// a payload the method cannot decode -> Internal (13); data over the size
// limit -> ResourceExhausted (8) on that stream, connection kept; an even or
// non-increasing stream id -> InvalidArgument (3); a deadline (timeout_nano)
// that passes -> DeadlineExceeded (4). A truncated frame or a dropped peer
// closes that connection only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/runtime.h"
#include "src/ttrpc/channel.h"

namespace hcsshim::ttrpc {

using Metadata = std::vector<std::pair<std::string, std::string>>;

// CallContext: what a handler knows about its call.
struct CallContext {
  std::string service;
  std::string method;
  uint32_t streamId = 0;
  // connectionId identifies the client connection (sessions keyed by it end
  // with setConnectionClosedHandler's callback).
  uint64_t connectionId = 0;
  Metadata metadata;
  std::optional<runtime::TimePoint> deadline;
  runtime::PeerCredentials peer;
  // cancelled becomes true when the deadline passes or the connection drops;
  // long handlers may check it and stop early.
  std::shared_ptr<bool> cancelled = std::make_shared<bool>(false);

  // metadataValue returns the first value for key, or "".
  std::string metadataValue(std::string_view key) const;
};

// Handler: raw payload in, raw payload out.
using Handler = std::function<runtime::Task<StatusOr<std::string>>(CallContext&, std::string payload)>;

struct ServerOptions {
  // requireSameUser rejects connections whose SO_PEERCRED uid/gid differ from
  // the server's own (what containerd's shims do).
  bool requireSameUser = false;
  uint32_t maxMessageSize = kMaxMessageSize;
};

class Server {
 public:
  Server(runtime::Runtime& rt, ServerOptions options = {});
  ~Server();

  void registerMethod(const std::string& service, const std::string& method, Handler handler);

  // setConnectionClosedHandler is called with the connection id when a
  // client connection ends (any reason), after its reader has stopped.
  void setConnectionClosedHandler(std::function<void(uint64_t connectionId)> fn);

  // registerUnary registers a method taking and returning protobuf messages.
  template <typename Req, typename Resp, typename Fn>
  void registerUnary(const std::string& service, const std::string& method, Fn fn) {
    registerMethod(service, method,
                   [fn = std::move(fn)](CallContext& ctx, std::string payload) -> runtime::Task<StatusOr<std::string>> {
                     return callTyped<Req, Resp>(fn, ctx, std::move(payload));
                   });
  }

  // serve accepts connections until the listener is closed or shutdown() is
  // called. Each connection runs on its own coroutines.
  runtime::Task<Status> serve(std::unique_ptr<runtime::Listener> listener);

  // shutdown closes the listener and every connection; in-flight handlers
  // finish but their responses are dropped.
  void shutdown();
  // drainThenShutdown: no new connections; the calls in flight finish and
  // their responses are written (as far as `grace` allows: a peer that does
  // not read cannot hold a stopping server), then shutdown().
  runtime::Task<void> drainThenShutdown(runtime::Duration grace);

  size_t connectionCount() const;
  size_t activeCalls() const;

  // Opaque per-connection and per-server state (public only so that helpers
  // in server.cc can name them).
  struct Conn;
  struct State;

 private:
  template <typename Req, typename Resp, typename Fn>
  static runtime::Task<StatusOr<std::string>> callTyped(const Fn& fn, CallContext& ctx, std::string payload) {
    Req req;
    if (!req.ParseFromString(payload)) {
      co_return InternalError("ttrpc: error unmarshalling payload for " + ctx.service + "/" + ctx.method);
    }
    StatusOr<Resp> resp = co_await fn(ctx, req);
    if (!resp.ok()) co_return resp.status();
    std::string out;
    if (!resp->SerializeToString(&out)) co_return InternalError("ttrpc: error marshalling response");
    co_return out;
  }
  // The coroutines hold the state, not the Server, so dropping the Server
  // while calls are in flight is safe.
  static runtime::Task<void> runConnection(std::shared_ptr<State> state, std::shared_ptr<Conn> conn);
  static runtime::Task<void> runCall(std::shared_ptr<State> state, std::shared_ptr<Conn> conn, CallContext ctx,
                                     const Handler* handler, std::string payload);
  std::shared_ptr<State> state_;
};

// kErrorDetailType is the Any type_url of ErrorDetail in RpcStatus.details.
inline constexpr char kErrorDetailType[] = "hcsshim.ttrpc.ErrorDetail";

// statusFromRpc rebuilds a Status from a wire status (code, message, and the
// HRESULT/op/id of an ErrorDetail if present).
class RpcStatus;
Status statusFromRpc(const RpcStatus& rpc);
void statusToRpc(const Status& status, RpcStatus* rpc);

}  // namespace hcsshim::ttrpc
