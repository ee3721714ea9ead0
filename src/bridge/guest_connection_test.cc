// GuestConnection (the host's end of the bridge) against a small guest
// written in the test, over a simulated stream on virtual time: responses
// out of order, a guest that hangs up mid-frame, oversize frames, unknown
// message types, responses nobody asked for, requests that never complete.
#include "src/bridge/guest_connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "sim/node.h"
#include "sim/world.h"
#include "src/bridge/messages.h"
#include "src/common/status_matchers.h"

namespace hcsshim::bridge {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
using runtime::Task;
using namespace std::chrono_literals;
namespace hr = hresult;

class NoVsock final : public VsockHost {
 public:
  StatusOr<std::unique_ptr<runtime::Listener>> listen(uint32_t) override {
    return UnimplementedError("no stdio in this test");
  }
};

// A response frame for request (type, id) with Result 0 and extra fields.
std::string response(uint32_t type, uint64_t id, Json fields = Json::object()) {
  fields["Result"] = 0;
  fields["ActivityId"] = "a";
  return *encodeFrame(responseTypeOf(type), id, jsonText(fields));
}

class GuestConnectionTest : public ::testing::Test {
 protected:
  GuestConnectionTest() : world_(7), host_(world_.addNode("host")), guest_(world_.addNode("guest")) {}

  // connect: the guest's bridge stream (answers NegotiateProtocol) and the
  // host's negotiated GuestConnection.
  void connect(GuestConnectionOptions options = {}) {
    auto l = guest_.transport().listen("unix:///run/bridge.sock");
    ASSERT_THAT(l, IsOk());
    listener_ = std::move(*l);
    std::optional<StatusOr<std::unique_ptr<runtime::Stream>>> accepted;
    runtime::spawn([](runtime::Listener& l, auto& out) -> Task<void> { out.emplace(co_await l.accept()); }(*listener_, accepted));
    std::optional<StatusOr<std::unique_ptr<GuestConnection>>> gc;
    runtime::spawn([](runtime::Runtime& rt, NoVsock& vsock, GuestConnectionOptions o, auto& out) -> Task<void> {
      auto s = co_await rt.transport().connect("unix:///run/bridge.sock");
      if (!s.ok()) {
        out.emplace(s.status());
        co_return;
      }
      out.emplace(co_await GuestConnection::over(rt.loop(), std::move(*s), vsock, "vm1", o));
    }(host_, vsock_, options, gc));
    ASSERT_TRUE(world_.runUntil([&] { return accepted.has_value(); }));
    ASSERT_THAT(*accepted, IsOk());
    guestConn_ = std::make_unique<Connection>(std::move(**accepted));
    // The negotiation, answered by the test's guest.
    Frame neg = recv();
    ASSERT_EQ(neg.header.type, msg::kNegotiateProtocol);
    Json caps = {{"Version", 4}, {"Capabilities", {{"SendHostCreateMessage", false}}}};
    send(response(msg::kNegotiateProtocol, neg.header.id, caps));
    ASSERT_TRUE(world_.runUntil([&] { return gc.has_value(); }));
    ASSERT_THAT(*gc, IsOk());
    host_conn_ = std::move(**gc);
  }

  Frame recv() {
    std::optional<StatusOr<Frame>> f;
    runtime::spawn([](Connection& c, auto& out) -> Task<void> { out.emplace(co_await c.recv()); }(*guestConn_, f));
    EXPECT_TRUE(world_.runUntil([&] { return f.has_value(); }));
    EXPECT_THAT(*f, IsOk());
    return f->ok() ? std::move(**f) : Frame{};
  }
  // send writes raw bytes from the guest.
  void send(std::string bytes) {
    bool done = false;
    runtime::spawn([](runtime::Stream& s, std::string b, bool& d) -> Task<void> {
      (void)co_await s.write(b);
      d = true;
    }(guestConn_->stream(), std::move(bytes), done));
    world_.runUntil([&] { return done; });
  }
  // request starts a host request; its result appears in the returned slot.
  std::shared_ptr<std::optional<StatusOr<std::string>>> request(uint32_t type, std::string container = "c1") {
    auto out = std::make_shared<std::optional<StatusOr<std::string>>>();
    runtime::spawn([](GuestConnection& gc, uint32_t type, std::string c, auto out) -> Task<void> {
      out->emplace(co_await gc.request(type, c, Json::object()));
    }(*host_conn_, type, std::move(container), out));
    return out;
  }
  void settle() { world_.runUntil([] { return false; }); }

  sim::World world_;
  sim::Node& host_;
  sim::Node& guest_;
  NoVsock vsock_;
  std::unique_ptr<runtime::Listener> listener_;
  std::unique_ptr<Connection> guestConn_;
  std::unique_ptr<GuestConnection> host_conn_;
};

TEST_F(GuestConnectionTest, ResponsesOutOfOrderReachTheirCallers) {
  connect();
  auto a = request(msg::kGetProperties, "a");
  auto b = request(msg::kGetProperties, "b");
  auto c = request(msg::kGetProperties, "c");
  Frame fa = recv(), fb = recv(), fc = recv();
  EXPECT_EQ(parseJson(fa.payload)->value("ContainerId", ""), "a");
  send(response(msg::kGetProperties, fc.header.id, {{"Who", "c"}}));
  send(response(msg::kGetProperties, fa.header.id, {{"Who", "a"}}));
  send(response(msg::kGetProperties, fb.header.id, {{"Who", "b"}}));
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value() && b->has_value() && c->has_value(); }));
  for (auto& [slot, who] : {std::pair{a, "a"}, {b, "b"}, {c, "c"}}) {
    ASSERT_THAT(**slot, IsOk());
    EXPECT_EQ(parseJson(***slot)->value("Who", ""), who);
  }
  EXPECT_EQ(host_conn_->pendingRequests(), 0u);
}

TEST_F(GuestConnectionTest, AGuestThatHangsUpMidFrameFailsEveryPendingRequest) {
  connect();
  auto a = request(msg::kGetProperties);
  auto b = request(msg::kDumpStacks);
  Frame fa = recv();
  recv();
  std::string whole = response(msg::kGetProperties, fa.header.id);
  send(whole.substr(0, kHeaderSize + 3));  // the header and part of the payload
  guestConn_->close();
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value() && b->has_value(); }));
  EXPECT_THAT(**a, HResultIs(hr::kHcsConnectionClosed));
  EXPECT_THAT(**b, HResultIs(hr::kHcsConnectionClosed));
  EXPECT_TRUE(host_conn_->closed());
  EXPECT_THAT(host_conn_->lostReason().message(), HasSubstr("lost"));
  // Later calls fail at once, naming the loss.
  auto late = request(msg::kGetProperties);
  settle();
  ASSERT_TRUE(late->has_value());
  EXPECT_THAT(**late, HResultIs(hr::kHcsConnectionClosed));
}

// The guest is gone before the host notices: the request that discovers it
// (its write fails, the loss is handled while it is being sent) fails too -
// it does not wait for the request timeout.
TEST_F(GuestConnectionTest, ARequestSentAsTheGuestDisappearsFailsAtOnce) {
  connect();
  guestConn_->close();
  listener_->close();
  runtime::TimePoint asked = world_.now();
  auto a = request(msg::kGetProperties);
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  EXPECT_THAT(**a, HResultIs(hr::kHcsConnectionClosed));
  EXPECT_LT(world_.now() - asked, 1s) << "it failed with the connection, not by timing out";
}

TEST_F(GuestConnectionTest, AGuestThatHangsUpMidHeaderToo) {
  connect();
  auto a = request(msg::kGetProperties);
  recv();
  send(std::string("\x01\x02\x03\x04\x05", 5));
  guestConn_->close();
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  EXPECT_THAT(**a, HResultIs(hr::kHcsConnectionClosed));
}

TEST_F(GuestConnectionTest, AnOversizeFrameBreaksTheConnectionWithAPreciseError) {
  connect();
  auto a = request(msg::kGetProperties);
  Frame fa = recv();
  char header[kHeaderSize];
  encodeHeader(Header{responseTypeOf(msg::kGetProperties), 0x200000, fa.header.id}, header);
  send(std::string(header, kHeaderSize));
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  EXPECT_FALSE(a->value().ok());
  EXPECT_TRUE(host_conn_->closed());
  EXPECT_THAT(host_conn_->lostReason().message(), HasSubstr(std::to_string(0x200000))) << "the size at fault";
}

TEST_F(GuestConnectionTest, UnknownTypesAndUnaskedResponsesAreIgnored) {
  connect();
  auto a = request(msg::kGetProperties);
  Frame fa = recv();
  send(*encodeFrame(0x50100101, 1, "{}"));                                 // kind 5: no such kind
  send(*encodeFrame(0x10100101, 2, "{}"));                                 // a request from the guest
  send(response(msg::kGetProperties, fa.header.id + 1000, {{"Who", "x"}}));  // nobody asked
  send(response(msg::kGetProperties, fa.header.id, {{"Who", "me"}}));
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  ASSERT_THAT(**a, IsOk());
  EXPECT_EQ(parseJson(***a)->value("Who", ""), "me");
  EXPECT_FALSE(host_conn_->closed()) << "the connection survives what it can ignore";
}

TEST_F(GuestConnectionTest, AResponseOfTheWrongTypeIsAProtocolError) {
  connect();
  auto a = request(msg::kGetProperties);
  Frame fa = recv();
  send(response(msg::kDumpStacks, fa.header.id));
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  EXPECT_THAT(**a, HResultIs(hr::kHcsProtocolError));
}

TEST_F(GuestConnectionTest, AMalformedResponseIsAProtocolErrorAndTheConnectionGoesOn) {
  connect();
  auto a = request(msg::kGetProperties);
  Frame fa = recv();
  send(*encodeFrame(responseTypeOf(msg::kGetProperties), fa.header.id, "{not json"));
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  EXPECT_THAT(**a, HResultIs(hr::kHcsProtocolError));
  auto b = request(msg::kGetProperties);
  Frame fb = recv();
  send(response(msg::kGetProperties, fb.header.id));
  ASSERT_TRUE(world_.runUntil([&] { return b->has_value(); }));
  EXPECT_THAT(**b, IsOk());
}

TEST_F(GuestConnectionTest, AGuestErrorKeepsItsHResult) {
  connect();
  auto a = request(msg::kGetProperties);
  Frame fa = recv();
  Json err = {{"Result", static_cast<int32_t>(0x80070490)}, {"ErrorMessage", "no such container"}, {"ActivityId", "a"}};
  send(*encodeFrame(responseTypeOf(msg::kGetProperties), fa.header.id, jsonText(err)));
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  EXPECT_THAT(**a, HResultIs(0x80070490));
  EXPECT_THAT(a->value().status().message(), HasSubstr("no such container"));
}

// A request the guest never answers: the host gives up after the request
// timeout and closes the bridge (as HCS does) - on virtual time.
TEST_F(GuestConnectionTest, ARequestThatNeverCompletesClosesTheBridge) {
  connect(GuestConnectionOptions{.requestTimeout = 5min});
  runtime::TimePoint asked = world_.now();
  auto a = request(msg::kGetProperties);
  recv();
  ASSERT_TRUE(world_.runUntil([&] { return a->has_value(); }));
  EXPECT_THAT(**a, HResultIs(hr::kHcsConnectionTimeout));
  EXPECT_GE(world_.now() - asked, 5min);
  EXPECT_TRUE(host_conn_->closed());
}

TEST_F(GuestConnectionTest, ANotificationReachesItsWaiter) {
  connect();
  std::optional<StatusOr<ContainerNotification>> exit;
  runtime::spawn([](GuestConnection& gc, auto& out) -> Task<void> { out.emplace(co_await gc.waitForExit("c7")); }(*host_conn_, exit));
  Json n = {{"ContainerId", "c7"}, {"Type", "UnexpectedExit"}, {"Operation", "None"}, {"Result", 3}, {"ActivityId", "a"}};
  send(*encodeFrame(msg::kContainerNotification, 0, jsonText(n)));
  ASSERT_TRUE(world_.runUntil([&] { return exit.has_value(); }));
  ASSERT_THAT(*exit, IsOk());
  EXPECT_EQ((*exit)->result, 3);
}

}  // namespace
}  // namespace hcsshim::bridge
