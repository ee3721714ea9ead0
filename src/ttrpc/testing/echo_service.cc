#include "src/ttrpc/testing/echo_service.h"

namespace hcsshim::ttrpc::testing {

using runtime::Task;
using test::EchoRequest;
using test::EchoResponse;

namespace {

Task<StatusOr<EchoResponse>> echo(runtime::Runtime& rt, CallContext& ctx, const EchoRequest& req) {
  if (req.delay_us() > 0) co_await runtime::sleep(rt.loop(), std::chrono::microseconds(req.delay_us()));
  if (req.fail_hresult() != 0) co_return Status::fromHResult(req.fail_hresult(), "Echo", req.text(), "requested HRESULT");
  if (req.fail_code() != 0) co_return Status(static_cast<Code>(req.fail_code()), "requested failure: " + req.text());
  EchoResponse resp;
  resp.set_text(req.text());
  resp.set_stream_id(ctx.streamId);
  std::string md;
  for (auto& [k, v] : ctx.metadata) md += k + "=" + v + ";";
  resp.set_metadata(md);
  resp.set_blob(req.blob());
  co_return resp;
}

}  // namespace

void registerEcho(Server& server, runtime::Runtime& rt) {
  server.registerUnary<EchoRequest, EchoResponse>(
      kEchoService, "Echo", [&rt](CallContext& ctx, const EchoRequest& req) -> Task<StatusOr<EchoResponse>> {
        return echo(rt, ctx, req);
      });
}

StatusOr<std::unique_ptr<Server>> startEchoServer(runtime::Runtime& rt, const std::string& address,
                                                  ServerOptions options) {
  auto server = std::make_unique<Server>(rt, options);
  registerEcho(*server, rt);
  HCS_ASSIGN_OR_RETURN(auto listener, rt.transport().listen(address));
  runtime::spawn([](Server& s, std::unique_ptr<runtime::Listener> l) -> Task<void> {
    (void)co_await s.serve(std::move(l));
  }(*server, std::move(listener)));
  return server;
}

void stopServer(Server& server, runtime::EventLoop& loop) {
  server.shutdown();
  loop.runUntil([&] { return server.connectionCount() == 0 && server.activeCalls() == 0; });
}

}  // namespace hcsshim::ttrpc::testing
