// echo_service.h: the test service "hcsshim.test.Echo" (methods Echo, Sleep).
#pragma once

#include "src/runtime/runtime.h"
#include "src/ttrpc/server.h"
#include "src/ttrpc/testing/echo.pb.h"

namespace hcsshim::ttrpc::testing {

inline constexpr char kEchoService[] = "hcsshim.test.Echo";

// registerEcho adds Echo: waits delay_us, fails with fail_code if set, else
// returns text, the stream id, the metadata it saw and the blob.
void registerEcho(Server& server, runtime::Runtime& rt);

// startEchoServer creates a server with Echo registered, listens on address
// and starts serving in the background.
StatusOr<std::unique_ptr<Server>> startEchoServer(runtime::Runtime& rt, const std::string& address,
                                                  ServerOptions options = {});

// stopServer shuts the server down and runs the loop until its connections
// and in-flight handlers are gone (nothing left suspended).
void stopServer(Server& server, runtime::EventLoop& loop);

}  // namespace hcsshim::ttrpc::testing
