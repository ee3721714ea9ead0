// client.h: a ttrpc client on the runtime seams.
//
// One connection carries any number of concurrent calls (odd stream ids 1, 3,
// 5, ...); responses are matched by stream id in whatever order they come. A
// call with a timeout sends timeout_nano and also fails locally with
// DeadlineExceeded when it passes. When the connection breaks, every pending
// call fails with Unavailable naming the cause; nothing waits forever.
//
//   auto client = co_await ttrpc::Client::connect(rt, "unix:///run/containerd/containerd.sock.ttrpc");
//   auto resp = co_await (*client)->call<ForwardRequest, hcsshim::protobuf::Empty>(
//       "containerd.services.events.ttrpc.v1.Events", "Forward", req,
//       {.timeout = 5s, .metadata = {{"containerd-namespace-ttrpc", "default"}}});
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "src/common/status.h"
#include "src/runtime/runtime.h"
#include "src/ttrpc/channel.h"
#include "src/ttrpc/server.h"

namespace hcsshim::ttrpc {

struct CallOptions {
  std::optional<runtime::Duration> timeout;
  Metadata metadata;
};

class Client {
 public:
  // connect dials address through the runtime's transport.
  static runtime::Task<StatusOr<std::unique_ptr<Client>>> connect(runtime::Runtime& rt, std::string address,
                                                                  uint32_t maxMessageSize = kMaxMessageSize);
  Client(runtime::Runtime& rt, std::unique_ptr<runtime::Stream> stream, uint32_t maxMessageSize = kMaxMessageSize);
  ~Client();

  // call sends one request and waits for its response payload.
  runtime::Task<StatusOr<std::string>> call(std::string service, std::string method, std::string payload,
                                            CallOptions options = {});

  // (req is taken by value: the task starts lazily, after the caller's
  // temporaries may be gone.)
  template <typename Req, typename Resp>
  runtime::Task<StatusOr<Resp>> call(std::string service, std::string method, Req req, CallOptions options = {}) {
    std::string payload;
    if (!req.SerializeToString(&payload)) co_return InternalError("ttrpc: cannot marshal request");
    auto raw = co_await call(std::move(service), std::move(method), std::move(payload), std::move(options));
    if (!raw.ok()) co_return raw.status();
    Resp resp;
    if (!resp.ParseFromString(*raw)) co_return InternalError("ttrpc: cannot unmarshal response");
    co_return resp;
  }

  // close fails pending calls with Cancelled and closes the connection.
  void close();
  bool closed() const;
  size_t pendingCalls() const;

  struct State;

 private:
  static runtime::Task<void> readLoop(std::shared_ptr<State> s);
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::ttrpc
