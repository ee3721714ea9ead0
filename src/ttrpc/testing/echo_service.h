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

}  // namespace hcsshim::ttrpc::testing
