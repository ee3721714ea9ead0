#include "src/ttrpc/testing/echo_service.h"

namespace hcsshim::ttrpc::testing {

using runtime::Task;
using test::EchoRequest;
using test::EchoResponse;

namespace {

Task<StatusOr<EchoResponse>> echo(runtime::Runtime& rt, CallContext& ctx, const EchoRequest& req) {
  if (req.delay_us() > 0) co_await runtime::sleep(rt.loop(), std::chrono::microseconds(req.delay_us()));
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

}  // namespace hcsshim::ttrpc::testing
