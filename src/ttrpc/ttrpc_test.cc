// ttrpc client/server behaviour, run twice: over real unix sockets on the
// epoll loop, and over the simulator's streams on virtual time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "sim/node.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"
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
using namespace std::chrono_literals;
using ::hcsshim::ttrpc::testing::kEchoService;

// Env: where the server and client run.
class Env {
 public:
  virtual ~Env() = default;
  virtual runtime::Runtime& serverRt() = 0;
  virtual runtime::Runtime& clientRt() = 0;
  virtual std::string address() = 0;
  // otherUserRt: a client runtime whose uid differs from the server's, or
  // nullptr where the environment cannot make one.
  virtual runtime::Runtime* otherUserRt() = 0;
};

class RealEnv : public Env {
 public:
  RealEnv() {
    rt_ = std::move(*runtime::RealRuntime::create("test"));
    char tmpl[] = "/tmp/hcs-ttrpc-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~RealEnv() override { std::filesystem::remove_all(dir_); }
  runtime::Runtime& serverRt() override { return *rt_; }
  runtime::Runtime& clientRt() override { return *rt_; }
  std::string address() override { return "unix://" + dir_ + "/ttrpc.sock"; }
  runtime::Runtime* otherUserRt() override { return nullptr; }

 private:
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_;
};

class SimEnv : public Env {
 public:
  SimEnv()
      : world_(sim::seedFromEnv(1234)),
        server_(world_.addNode("server", runtime::PeerCredentials{100, 0, 0})),
        client_(world_.addNode("client", runtime::PeerCredentials{101, 0, 0})),
        stranger_(world_.addNode("stranger", runtime::PeerCredentials{102, 1000, 1000})) {}
  runtime::Runtime& serverRt() override { return server_; }
  runtime::Runtime& clientRt() override { return client_; }
  std::string address() override { return "unix:///run/sim/ttrpc.sock"; }
  runtime::Runtime* otherUserRt() override { return &stranger_; }

 private:
  sim::World world_;
  sim::Node& server_;
  sim::Node& client_;
  sim::Node& stranger_;
};

class TtrpcTest : public ::testing::TestWithParam<std::string> {
 public:
  void SetUp() override {
    if (GetParam() == "real") {
      env_ = std::make_unique<RealEnv>();
    } else {
      env_ = std::make_unique<SimEnv>();
    }
    startServer({});
  }
  void TearDown() override {
    client_.reset();
    // Let closed connections and sleeping handlers unwind before the runtime goes away.
    if (server_) testing::stopServer(*server_, loop());
    server_.reset();
  }

  void startServer(ServerOptions options) {
    if (server_) testing::stopServer(*server_, loop());
    auto s = testing::startEchoServer(env_->serverRt(), env_->address(), options);
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
  }

  runtime::EventLoop& loop() { return env_->clientRt().loop(); }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(loop(), std::move(t));
  }

  Client& client() {
    if (!client_) {
      auto c = run(Client::connect(env_->clientRt(), env_->address()));
      EXPECT_THAT(c, IsOk());
      client_ = std::move(*c);
    }
    return *client_;
  }

  Task<StatusOr<EchoResponse>> echo(Client& c, std::string text, int64_t delayUs = 0, CallOptions opts = {}) {
    EchoRequest req;
    req.set_text(std::move(text));
    req.set_delay_us(delayUs);
    return c.call<EchoRequest, EchoResponse>(kEchoService, "Echo", req, std::move(opts));
  }

  // rawExchange writes bytes on a fresh connection and returns the frames
  // received until `frames` arrived or the connection ended.
  struct RawResult {
    std::vector<Frame> frames;
    Status end;
  };
  RawResult rawExchange(std::string bytes, size_t frames, bool closeAfterWrite = false) {
    auto stream = run(env_->clientRt().transport().connect(env_->address()));
    EXPECT_THAT(stream, IsOk());
    Channel ch(std::move(*stream));
    EXPECT_THAT(run(ch.stream().write(bytes)), IsOk());
    if (closeAfterWrite) {
      EXPECT_THAT(ch.stream().shutdownWrite(), IsOk());
    }
    RawResult r;
    while (r.frames.size() < frames) {
      auto f = run(ch.recv());
      if (!f.ok()) {
        r.end = f.status();
        break;
      }
      r.frames.push_back(std::move(*f));
    }
    return r;
  }

  static std::string frameBytes(uint32_t streamId, MessageType type, const std::string& payload,
                                std::optional<uint32_t> lengthOverride = std::nullopt) {
    char hdr[kHeaderSize];
    encodeHeader(FrameHeader{lengthOverride.value_or(static_cast<uint32_t>(payload.size())), streamId,
                             static_cast<uint8_t>(type), 0},
                 hdr);
    return std::string(hdr, kHeaderSize) + payload;
  }

  static std::string requestBytes(uint32_t streamId, const std::string& service, const std::string& method,
                                  const std::string& payload, int64_t timeoutNano = 0) {
    Request req;
    req.set_service(service);
    req.set_method(method);
    req.set_payload(payload);
    req.set_timeout_nano(timeoutNano);
    return frameBytes(streamId, MessageType::kRequest, req.SerializeAsString());
  }

  static std::string echoPayload(const std::string& text, int64_t delayUs = 0) {
    EchoRequest req;
    req.set_text(text);
    req.set_delay_us(delayUs);
    return req.SerializeAsString();
  }

  static Response decodeResponse(const Frame& f) {
    Response r;
    EXPECT_TRUE(r.ParseFromString(f.payload));
    return r;
  }

  // realStrangerIsRejected: a child process running as nobody connects over
  // the real socket and sends a valid request; the server must close the
  // connection without answering.
  void realStrangerIsRejected() {
    if (geteuid() != 0) GTEST_SKIP() << "switching to another uid needs root";
    std::string path = env_->address().substr(7);
    ASSERT_EQ(chmod(path.c_str(), 0666), 0);
    ASSERT_EQ(chmod(std::filesystem::path(path).parent_path().c_str(), 0711), 0);
    std::string request = requestBytes(1, kEchoService, "Echo", echoPayload("intruder"));
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: become nobody, connect, send, and report what came back.
      if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::memcpy(addr.sun_path, path.c_str(), path.size());
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(11);
      (void)!write(fd, request.data(), request.size());
      char buf[64];
      ssize_t n = read(fd, buf, sizeof buf);
      _exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 12);  // 0: closed without an answer
    }
    // Serve while the child runs.
    std::optional<int> status;
    while (!status) {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) status = st;
      bool tick = false;
      loop().addTimer(1ms, [&] { tick = true; });
      loop().runUntil([&] { return tick; });
    }
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0) << "10: setuid failed, 11: connect failed, 12: got an answer";
  }

  std::unique_ptr<Env> env_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_P(TtrpcTest, UnaryRoundTripWithMetadata) {
  CallOptions opts;
  opts.metadata = {{"containerd-namespace-ttrpc", "default"}, {"x", "y"}};
  auto r = run(echo(client(), "hello", 0, opts));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->text(), "hello");
  EXPECT_EQ(r->stream_id(), 1u);
  EXPECT_EQ(r->metadata(), "containerd-namespace-ttrpc=default;x=y;");
  auto r2 = run(echo(client(), "again"));
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r2->stream_id(), 3u) << "client stream ids are odd and increasing";
}

TEST_P(TtrpcTest, ConcurrentCallsCompleteOutOfOrder) {
  Client& c = client();
  std::vector<std::string> order;
  auto callInto = [](TtrpcTest* t, Client& c, std::string text, int64_t delay,
                     std::vector<std::string>& out) -> Task<void> {
    auto r = co_await t->echo(c, text, delay);
    out.push_back(r.ok() ? r->text() : r.status().toString());
  };
  runtime::spawn(callInto(this, c, "slow", 50000, order));
  runtime::spawn(callInto(this, c, "medium", 20000, order));
  runtime::spawn(callInto(this, c, "fast", 0, order));
  loop().runUntil([&] { return order.size() == 3; });
  EXPECT_EQ(order, (std::vector<std::string>{"fast", "medium", "slow"}));
}

TEST_P(TtrpcTest, HandlerErrorsKeepTheirCode) {
  EchoRequest req;
  req.set_text("x");
  req.set_fail_code(static_cast<int>(Code::kNotFound));
  auto r = run(client().call<EchoRequest, EchoResponse>(kEchoService, "Echo", req));
  EXPECT_THAT(r, StatusIs(Code::kNotFound, "requested failure: x"));
  req.set_fail_code(static_cast<int>(Code::kFailedPrecondition));
  EXPECT_THAT(run(client().call<EchoRequest, EchoResponse>(kEchoService, "Echo", req)),
              StatusIs(Code::kFailedPrecondition));
}

TEST_P(TtrpcTest, HResultOpAndIdSurviveTheHop) {
  EchoRequest req;
  req.set_text("vm-7");
  req.set_fail_hresult(hresult::kHcsInvalidState);
  auto r = run(client().call<EchoRequest, EchoResponse>(kEchoService, "Echo", req));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.status().hresult(), hresult::kHcsInvalidState);
  EXPECT_EQ(r.status().op(), "Echo");
  EXPECT_EQ(r.status().id(), "vm-7");
  EXPECT_EQ(r.status().message(), "requested HRESULT");
}

TEST_P(TtrpcTest, AThrowingHandlerCostsOneCallNotTheServer) {
  server_->registerMethod("hcsshim.test.Throw", "Now", [](CallContext&, std::string) -> Task<StatusOr<std::string>> {
    throw std::runtime_error("kaboom");
    co_return std::string();
  });
  EXPECT_THAT(run(client().call("hcsshim.test.Throw", "Now", "")), StatusIs(Code::kInternal, "kaboom"));
  EXPECT_THAT(run(echo(client(), "still serving")), IsOk());
}

TEST_P(TtrpcTest, UnknownServiceAndMethodAreUnimplemented) {
  EXPECT_THAT(run(client().call("no.such.Service", "Echo", "")), StatusIs(Code::kUnimplemented, "service no.such.Service"));
  EXPECT_THAT(run(client().call(kEchoService, "Nope", "")), StatusIs(Code::kUnimplemented, "method Nope"));
}

TEST_P(TtrpcTest, UndecodablePayloadIsInternal) {
  EXPECT_THAT(run(client().call(kEchoService, "Echo", std::string("\xff\xff\xff", 3))),
              StatusIs(Code::kInternal, "error unmarshalling payload"));
  // The connection is still good.
  EXPECT_THAT(run(echo(client(), "ok")), IsOk());
}

TEST_P(TtrpcTest, ClientDeadline) {
  CallOptions opts;
  opts.timeout = 5ms;
  auto r = run(echo(client(), "late", 200000, opts));
  EXPECT_THAT(r, StatusIs(Code::kDeadlineExceeded));
  EXPECT_EQ(client().pendingCalls(), 0u);
  // The late answer (or the server's deadline answer) is ignored; the connection still works.
  EXPECT_THAT(run(echo(client(), "next")), IsOk());
}

TEST_P(TtrpcTest, ServerEnforcesTimeoutNano) {
  // No client-side timer here: the server's own deadline must answer.
  auto r = rawExchange(requestBytes(1, kEchoService, "Echo", echoPayload("slow", 200000), 2000000), 1);
  ASSERT_EQ(r.frames.size(), 1u) << r.end;
  Response resp = decodeResponse(r.frames[0]);
  EXPECT_EQ(resp.status().code(), static_cast<int>(Code::kDeadlineExceeded));
  EXPECT_EQ(r.frames[0].header.streamId, 1u);
  EXPECT_EQ(r.frames[0].header.type, static_cast<uint8_t>(MessageType::kResponse));
}

TEST_P(TtrpcTest, OversizeFrameGetsCode8AndConnectionSurvives) {
  std::string big(kMaxMessageSize + 1, 'x');
  std::string bytes = frameBytes(1, MessageType::kRequest, big) + requestBytes(3, kEchoService, "Echo", echoPayload("after"));
  auto r = rawExchange(bytes, 2);
  ASSERT_EQ(r.frames.size(), 2u) << r.end;
  EXPECT_EQ(r.frames[0].header.streamId, 1u);
  Response first = decodeResponse(r.frames[0]);
  EXPECT_EQ(first.status().code(), 8);
  EXPECT_THAT(first.status().message(), ::testing::HasSubstr("exceeds maximum message size of 4194304"));
  EXPECT_EQ(r.frames[1].header.streamId, 3u);
  Response second = decodeResponse(r.frames[1]);
  EXPECT_EQ(second.status().code(), 0);
  EchoResponse er;
  ASSERT_TRUE(er.ParseFromString(second.payload()));
  EXPECT_EQ(er.text(), "after");
}

TEST_P(TtrpcTest, ClientRefusesToSendOversize) {
  EchoRequest req;
  req.set_blob(std::string(kMaxMessageSize, 'b'));
  EXPECT_THAT(run(client().call<EchoRequest, EchoResponse>(kEchoService, "Echo", req)),
              StatusIs(Code::kResourceExhausted));
  EXPECT_THAT(run(echo(client(), "still fine")), IsOk());
}

TEST_P(TtrpcTest, LargeButLegalPayloadRoundTrips) {
  EchoRequest req;
  req.set_blob(std::string(3 << 20, 'q'));
  auto r = run(client().call<EchoRequest, EchoResponse>(kEchoService, "Echo", req));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->blob().size(), 3u << 20);
}

TEST_P(TtrpcTest, EvenOrReusedStreamIdIsInvalidArgument) {
  std::string bytes = requestBytes(2, kEchoService, "Echo", echoPayload("even")) +
                      requestBytes(5, kEchoService, "Echo", echoPayload("five")) +
                      requestBytes(3, kEchoService, "Echo", echoPayload("reused"));
  auto r = rawExchange(bytes, 3);
  ASSERT_EQ(r.frames.size(), 3u) << r.end;
  std::map<uint32_t, int> codes;
  for (auto& f : r.frames) codes[f.header.streamId] = decodeResponse(f).status().code();
  EXPECT_EQ(codes[2], 3);
  EXPECT_EQ(codes[5], 0);
  EXPECT_EQ(codes[3], 3);
}

TEST_P(TtrpcTest, GarbageRequestProtobufIsInvalidArgument) {
  std::string bytes = frameBytes(1, MessageType::kRequest, std::string("\x0a\xff\xff\xff\xff\x0f", 6)) +
                      requestBytes(3, kEchoService, "Echo", echoPayload("next"));
  auto r = rawExchange(bytes, 2);
  ASSERT_EQ(r.frames.size(), 2u) << r.end;
  EXPECT_EQ(decodeResponse(r.frames[0]).status().code(), 3);
  EXPECT_THAT(decodeResponse(r.frames[0]).status().message(), ::testing::HasSubstr("unmarshal request error"));
  EXPECT_EQ(decodeResponse(r.frames[1]).status().code(), 0);
}

TEST_P(TtrpcTest, TruncatedHeaderAndMidFrameCloseOnlyEndThatConnection) {
  // 4 bytes of a header, then EOF.
  auto r1 = rawExchange(std::string("\x00\x00\x00", 3) + "\x10", 1, /*closeAfterWrite=*/true);
  EXPECT_TRUE(r1.frames.empty());
  EXPECT_THAT(r1.end, StatusIs(Code::kUnavailable));
  // A header promising 100 bytes, 10 delivered, then EOF.
  auto r2 = rawExchange(frameBytes(1, MessageType::kRequest, std::string(10, 'z'), 100), 1, true);
  EXPECT_TRUE(r2.frames.empty());
  // The server is still serving.
  EXPECT_THAT(run(echo(client(), "alive")), IsOk());
}

TEST_P(TtrpcTest, UnknownFrameTypesAreIgnored) {
  std::string bytes = frameBytes(1, MessageType::kData, "ignored") + requestBytes(3, kEchoService, "Echo", echoPayload("x"));
  auto r = rawExchange(bytes, 1);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].header.streamId, 3u);
}

TEST_P(TtrpcTest, ServerShutdownFailsPendingCalls) {
  Client& c = client();
  std::optional<Status> result;
  runtime::spawn([](TtrpcTest* t, Client& c, std::optional<Status>& out) -> Task<void> {
    out = (co_await t->echo(c, "never", 300000)).status();
  }(this, c, result));
  loop().runUntil([&] { return server_->activeCalls() == 1; });
  server_->shutdown();
  loop().runUntil([&] { return result.has_value(); });
  EXPECT_THAT(*result, StatusIs(Code::kUnavailable, "connection closed by peer"));
  EXPECT_THAT(run(echo(c, "after")), StatusIs(Code::kUnavailable));
  // Let the orphaned handler finish its sleep so nothing is left suspended.
  loop().runUntil([&] { return server_->activeCalls() == 0; });
}

TEST_P(TtrpcTest, PeerCredentialCheck) {
  startServer(ServerOptions{.requireSameUser = true});
  // Same user: accepted.
  EXPECT_THAT(run(echo(client(), "me")), IsOk());
  runtime::Runtime* stranger = env_->otherUserRt();
  if (!stranger) {
    realStrangerIsRejected();
    return;
  }
  auto c = run(Client::connect(*stranger, env_->address()));
  ASSERT_THAT(c, IsOk());
  auto r = run(echo(**c, "intruder"));
  // Depending on timing the client sees the close while writing or reading.
  EXPECT_THAT(r, StatusIs(Code::kUnavailable, "connection"));
  EXPECT_EQ(server_->connectionCount(), 1u) << "only the same-user client is connected";
}

INSTANTIATE_TEST_SUITE_P(Transports, TtrpcTest, ::testing::Values("real", "sim"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hcsshim::ttrpc
