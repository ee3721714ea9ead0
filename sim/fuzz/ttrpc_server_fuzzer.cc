// server_fuzzer: libFuzzer target for the ttrpc server's side of the wire -
// the input is what a hostile client writes on a connection (frames of any
// length, type, flags and stream id; Request payloads that do or do not
// decode; unknown services and methods; data frames; oversize lengths).
// The echo service answers what gets through. The server must neither crash
// nor hang: the world runs until nothing is left to do, then the server
// stops cleanly.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/node.h"
#include "src/common/log.h"
#include "src/ttrpc/server.h"
#include "src/ttrpc/testing/echo_service.h"

namespace {

using namespace hcsshim;

constexpr char kAddress[] = "unix:///run/sim/fuzz.sock";

// client: writes the input, then reads whatever the server answers until it
// hangs up.
runtime::Task<void> client(sim::Node& n, std::string input, bool& done) {
  auto c = co_await n.transport().connect(kAddress);
  if (c.ok()) {
    (void)co_await (*c)->write(input);
    (void)(*c)->shutdownWrite();
    char buf[4096];
    for (;;) {
      auto r = co_await (*c)->read(std::span<char>(buf, sizeof buf));
      if (!r.ok() || *r == 0) break;
    }
    (*c)->close();
  }
  done = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (log::setLevel(LogLevel::kOff), true);  // the server logs every bad frame
  (void)quiet;
  sim::World world(1, sim::WorldOptions{.maxEvents = 200000});
  sim::Node& serverNode = world.addNode("server");
  sim::Node& clientNode = world.addNode("client");
  auto server = ttrpc::testing::startEchoServer(serverNode, kAddress);
  if (!server.ok()) __builtin_trap();
  bool done = false;
  runtime::spawn(client(clientNode, std::string(reinterpret_cast<const char*>(data), size), done));
  world.runUntil([&] { return done; });
  if (!done) __builtin_trap();  // the server never answered nor hung up: a hang
  ttrpc::testing::stopServer(**server, serverNode.loop());
  return 0;
}
