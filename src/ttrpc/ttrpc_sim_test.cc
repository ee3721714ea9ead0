// ttrpc under the deterministic simulator: replay by seed, and injected
// network faults.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "sim/network.h"
#include "sim/node.h"
#include "src/common/status_matchers.h"
#include "src/ttrpc/client.h"
#include "src/ttrpc/server.h"
#include "src/ttrpc/testing/echo_service.h"
#include "src/ttrpc/ttrpc.pb.h"

namespace hcsshim::ttrpc {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using runtime::Task;
using test::EchoRequest;
using test::EchoResponse;

constexpr char kAddress[] = "unix:///run/sim/echo.sock";

struct Outcome {
  std::vector<std::optional<Status>> results;
  std::string trace;
};

// runCalls starts a server and a client on a fresh world, fires `calls`
// concurrent calls with seeded handler delays and waits until every call has
// an outcome (success or error).
Outcome runCalls(uint64_t seed, int calls, sim::FaultHook hook = nullptr) {
  sim::World world(seed);
  if (hook) world.setFaultHook(std::move(hook));
  sim::Node& serverNode = world.addNode("server");
  sim::Node& clientNode = world.addNode("client");
  auto serverPtr = std::move(*testing::startEchoServer(serverNode, kAddress));
  Server& server = *serverPtr;

  Outcome out;
  out.results.resize(calls);
  std::unique_ptr<Client> client;
  runtime::spawn([](sim::Node& n, std::unique_ptr<Client>& c) -> Task<void> {
    auto r = co_await Client::connect(n, kAddress);
    if (r.ok()) c = std::move(*r);
  }(clientNode, client));
  world.runUntil([&] { return client != nullptr; });
  EXPECT_NE(client, nullptr);
  if (!client) return out;

  for (int i = 0; i < calls; ++i) {
    runtime::spawn([](sim::Node& n, Client& c, int i, std::optional<Status>& slot) -> Task<void> {
      EchoRequest req;
      req.set_text("call" + std::to_string(i));
      req.set_delay_us(static_cast<int64_t>(n.random().uniform(400)));
      auto r = co_await c.call<EchoRequest, EchoResponse>(testing::kEchoService, "Echo", req);
      slot = r.status();
      n.trace("call" + std::to_string(i) + " -> " +
              (r.ok() ? "ok " + r->text() + " stream=" + std::to_string(r->stream_id()) : r.status().toString()));
    }(clientNode, *client, i, out.results[i]));
  }
  world.runUntil([&] {
    for (auto& r : out.results) {
      if (!r) return false;
    }
    return true;
  });
  client->close();
  testing::stopServer(server, serverNode.loop());
  out.trace = world.traceText();
  return out;
}

// A stopping server waits for its calls (bounded): one that never ends
// cannot hold it past the grace. (That answers already given reach their
// callers is shown where a close can overtake a write - a Windows named
// pipe: //functional:shim_wine_test's Shutdown calls.)
TEST(TtrpcSimTest, DrainThenShutdownStopsAfterItsGraceWhenACallNeverEnds) {
  sim::World world(7);
  sim::Node& serverNode = world.addNode("server");
  sim::Node& clientNode = world.addNode("client");
  auto serverPtr = std::move(*testing::startEchoServer(serverNode, kAddress));
  std::optional<Status> slow;
  runtime::spawn([](sim::Node& n, std::optional<Status>& slow) -> Task<void> {
    auto c = co_await Client::connect(n, kAddress);
    EchoRequest req;
    req.set_delay_us(int64_t{3600} * 1000 * 1000);  // an hour
    auto r = co_await (*c)->call<EchoRequest, EchoResponse>(testing::kEchoService, "Echo", req);
    slow = r.status();
  }(clientNode, slow));
  world.runUntil([&] { return serverPtr->activeCalls() == 1; });
  auto t0 = serverNode.loop().now();
  runtime::blockOn(serverNode.loop(), serverPtr->drainThenShutdown(std::chrono::seconds(2)));
  EXPECT_GE(serverNode.loop().now() - t0, std::chrono::seconds(2));
  EXPECT_LT(serverNode.loop().now() - t0, std::chrono::seconds(3));
  world.runUntil([&] { return slow.has_value(); });
  EXPECT_FALSE(slow->ok()) << "the caller learns the server went";
  // (The handler still sleeps its hour - virtual time - then ends with nobody to answer.)
  world.runUntil([&] { return serverPtr->activeCalls() == 0 && serverPtr->connectionCount() == 0; });
}

TEST(TtrpcSimTest, SameSeedReplaysByteIdenticalTrace) {
  uint64_t seed = sim::seedFromEnv(20261127);
  Outcome a = runCalls(seed, 20);
  Outcome b = runCalls(seed, 20);
  Outcome c = runCalls(seed + 1, 20);
  for (auto& r : a.results) ASSERT_THAT(*r, IsOk());
  EXPECT_GT(a.trace.size(), 2000u);
  EXPECT_EQ(a.trace, b.trace) << "replay: HCS_SIM_SEED=" << seed;
  EXPECT_NE(a.trace, c.trace) << "another seed must change the interleaving";
}

TEST(TtrpcSimTest, ResponsesArriveInSeedDependentOrder) {
  // The completion order differs between seeds (it is the handler delays and
  // the network that decide), which is what makes seeds worth exploring.
  auto order = [](uint64_t seed) {
    Outcome o = runCalls(seed, 10);
    size_t pos = 0;
    std::string seq;
    while ((pos = o.trace.find("client call", pos)) != std::string::npos) {
      seq += o.trace.substr(pos + 11, o.trace.find(' ', pos + 11) - pos - 11) + ",";
      ++pos;
    }
    return seq;
  };
  std::string one = order(1);
  EXPECT_EQ(std::count(one.begin(), one.end(), ','), 10);
  EXPECT_NE(one, order(2));
}

TEST(TtrpcSimTest, ConnectionResetMidRequestFrameFailsPendingCallsClearly) {
  uint64_t seed = sim::seedFromEnv(7);
  // The client's third write is cut after 5 bytes (inside the 10-byte header)
  // and the connection reset.
  Outcome o = runCalls(seed, 8, [](const sim::WriteInfo& w) {
    if (w.from == "client" && w.index == 2) return sim::WriteFault::resetAfter(5);
    return sim::WriteFault::none();
  });
  int failed = 0;
  for (auto& r : o.results) {
    ASSERT_TRUE(r.has_value()) << "a call was left hanging";
    if (!r->ok()) {
      ++failed;
      EXPECT_THAT(*r, StatusIs(Code::kUnavailable, "reset")) << o.trace;
    }
  }
  EXPECT_GT(failed, 0) << o.trace;
  EXPECT_THAT(o.trace, ::testing::HasSubstr("fault=reset_after_5"));
}

TEST(TtrpcSimTest, ConnectionResetMidResponseFrameFailsPendingCallsClearly) {
  Outcome o = runCalls(sim::seedFromEnv(8), 6, [](const sim::WriteInfo& w) {
    if (w.from == "server" && w.index == 1) return sim::WriteFault::resetAfter(13);
    return sim::WriteFault::none();
  });
  int failed = 0;
  for (auto& r : o.results) {
    ASSERT_TRUE(r.has_value());
    if (!r->ok()) {
      ++failed;
      EXPECT_THAT(*r, StatusIs(Code::kUnavailable)) << o.trace;
    }
  }
  EXPECT_GT(failed, 0);
}

TEST(TtrpcSimTest, DroppedRequestTimesOutWithDeadline) {
  sim::World world(3);
  world.setFaultHook([](const sim::WriteInfo& w) {
    return w.from == "client" ? sim::WriteFault::drop() : sim::WriteFault::none();
  });
  sim::Node& serverNode = world.addNode("server");
  sim::Node& clientNode = world.addNode("client");
  auto serverPtr = std::move(*testing::startEchoServer(serverNode, kAddress));
  Server& server = *serverPtr;
  auto client = std::move(*runtime::blockOn(clientNode.loop(), Client::connect(clientNode, kAddress)));
  CallOptions opts;
  opts.timeout = std::chrono::seconds(5);
  auto r = runtime::blockOn(clientNode.loop(), client->call(testing::kEchoService, "Echo", "", opts));
  EXPECT_THAT(r, StatusIs(Code::kDeadlineExceeded));
  EXPECT_GE(world.now(), std::chrono::seconds(5));
  client->close();
  testing::stopServer(server, serverNode.loop());
}

// Hundreds of hostile connections (random bytes, headers with random lengths
// and types, requests whose protobuf is noise, all cut off at random points):
// the server answers or drops each one and keeps serving.
TEST(TtrpcSimTest, RandomGarbageNeverHurtsTheServer) {
  uint64_t seed = sim::seedFromEnv(99);
  sim::World world(seed);
  sim::Node& serverNode = world.addNode("server");
  sim::Node& attacker = world.addNode("attacker");
  auto serverPtr = std::move(*testing::startEchoServer(serverNode, kAddress));
  Server& server = *serverPtr;
  runtime::Random& rnd = world.random();
  int answered = 0;
  for (int i = 0; i < 300; ++i) {
    std::string bytes;
    int frames = static_cast<int>(rnd.between(1, 4));
    for (int f = 0; f < frames; ++f) {
      switch (rnd.uniform(4)) {
        case 0:  // noise
          bytes += rnd.bytes(rnd.between(1, 64));
          break;
        case 1: {  // a header with a random length/type, then fewer or more bytes
          char hdr[kHeaderSize];
          encodeHeader(FrameHeader{static_cast<uint32_t>(rnd.uniform(1 << 12)), static_cast<uint32_t>(rnd.next()),
                                   static_cast<uint8_t>(rnd.uniform(5)), static_cast<uint8_t>(rnd.uniform(256))},
                       hdr);
          bytes += std::string(hdr, kHeaderSize) + rnd.bytes(rnd.uniform(1 << 12));
          break;
        }
        case 2: {  // a request frame whose Request protobuf is noise
          std::string payload = rnd.bytes(rnd.between(1, 200));
          char hdr[kHeaderSize];
          encodeHeader(FrameHeader{static_cast<uint32_t>(payload.size()), static_cast<uint32_t>(2 * f + 1), 1, 0}, hdr);
          bytes += std::string(hdr, kHeaderSize) + payload;
          break;
        }
        default: {  // a valid request for Echo with a noise payload
          Request req;
          req.set_service(testing::kEchoService);
          req.set_method("Echo");
          req.set_payload(rnd.bytes(rnd.uniform(100)));
          std::string payload = req.SerializeAsString();
          char hdr[kHeaderSize];
          encodeHeader(FrameHeader{static_cast<uint32_t>(payload.size()), static_cast<uint32_t>(2 * f + 1), 1, 0}, hdr);
          bytes += std::string(hdr, kHeaderSize) + payload;
        }
      }
    }
    // Cut somewhere (possibly mid-frame), send, half-close, read what comes back.
    bytes.resize(rnd.between(1, bytes.size()));
    auto got = runtime::blockOn(attacker.loop(), [](sim::Node& n, std::string bytes) -> Task<size_t> {
      auto st = co_await n.transport().connect(kAddress);
      if (!st.ok()) co_return 0;
      (void)co_await (*st)->write(bytes);
      (void)(*st)->shutdownWrite();
      size_t total = 0;
      char buf[4096];
      for (;;) {
        auto r = co_await (*st)->read(buf);
        if (!r.ok() || *r == 0) break;
        total += *r;
      }
      co_return total;
    }(attacker, std::move(bytes)));
    if (got > 0) ++answered;
  }
  EXPECT_GT(answered, 10) << "some garbage deserves an error response";
  // Still serving, and every hostile connection is gone.
  sim::Node& good = world.addNode("good");
  auto client = std::move(*runtime::blockOn(good.loop(), Client::connect(good, kAddress)));
  EchoRequest req;
  req.set_text("still here");
  auto r = runtime::blockOn(good.loop(), client->call<EchoRequest, EchoResponse>(testing::kEchoService, "Echo", req));
  ASSERT_THAT(r, IsOk()) << "replay: HCS_SIM_SEED=" << seed;
  EXPECT_EQ(r->text(), "still here");
  client->close();
  testing::stopServer(server, serverNode.loop());
}

}  // namespace
}  // namespace hcsshim::ttrpc
