#include "src/runtime/unix_transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "src/common/status_matchers.h"

namespace hcsshim::runtime {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

class UnixTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*EpollEventLoop::create());
    transport_ = std::make_unique<UnixTransport>(*loop_);
    char tmpl[] = "/tmp/hcs-unix-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/s.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<EpollEventLoop> loop_;
  std::unique_ptr<UnixTransport> transport_;
  std::string dir_, path_;
};

Task<Status> echoOnce(Listener& l) {
  auto conn = co_await l.accept();
  if (!conn.ok()) co_return conn.status();
  std::string all;
  char buf[4096];
  for (;;) {
    auto n = co_await (*conn)->read(buf);
    if (!n.ok()) co_return n.status();
    if (*n == 0) break;
    all.append(buf, *n);
  }
  HCS_CO_RETURN_IF_ERROR(co_await (*conn)->write(all));
  co_return (*conn)->shutdownWrite();
}

Task<StatusOr<std::string>> roundTrip(Transport& t, std::string address, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto s, co_await t.connect(address));
  HCS_CO_RETURN_IF_ERROR(co_await s->write(payload));
  HCS_CO_RETURN_IF_ERROR(s->shutdownWrite());
  std::string got;
  char buf[65536];
  for (;;) {
    HCS_CO_ASSIGN_OR_RETURN(size_t n, co_await s->read(buf));
    if (n == 0) break;
    got.append(buf, n);
  }
  co_return got;
}

TEST_F(UnixTransportTest, EchoWithHalfCloseAndLargePayload) {
  auto l = transport_->listen("unix://" + path_);
  ASSERT_THAT(l, IsOk());
  EXPECT_EQ((*l)->address(), "unix://" + path_);
  std::optional<Status> serverDone;
  spawn([](Listener& l, std::optional<Status>& out) -> Task<void> { out = co_await echoOnce(l); }(**l, serverDone));
  std::string payload(3 * 1024 * 1024 + 17, 'x');  // larger than socket buffers: exercises EAGAIN
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31);
  auto got = blockOn(*loop_, roundTrip(*transport_, path_, payload));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, payload);
  loop_->runUntil([&] { return serverDone.has_value(); });
  EXPECT_THAT(*serverDone, IsOk());
}

// Loopback TCP (for Wine, which has no AF_UNIX): port 0 gets a port the
// listener names; a connect to it carries data both ways like a unix socket.
TEST_F(UnixTransportTest, LoopbackTcpOnAPickedPort) {
  auto l = transport_->listen("tcp://127.0.0.1:0");
  ASSERT_THAT(l, IsOk());
  std::string address = (*l)->address();
  ASSERT_THAT(address, ::testing::MatchesRegex("tcp://127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_NE(address, "tcp://127.0.0.1:0");
  std::optional<Status> serverDone;
  spawn([](Listener& l, std::optional<Status>& out) -> Task<void> { out = co_await echoOnce(l); }(**l, serverDone));
  std::string payload(1024 * 1024 + 3, 'y');
  auto got = blockOn(*loop_, roundTrip(*transport_, address, payload));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, payload);
  loop_->runUntil([&] { return serverDone.has_value(); });
  EXPECT_THAT(*serverDone, IsOk());
  (*l)->close();
  EXPECT_THAT(blockOn(*loop_, transport_->connect(address)), StatusIs(Code::kUnavailable)) << "closed: refused";
}

TEST_F(UnixTransportTest, TcpServesOnlyLoopbackAndWellFormedAddresses) {
  EXPECT_THAT(transport_->listen("tcp://0.0.0.0:0"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(transport_->listen("tcp://10.1.2.3:80"), StatusIs(Code::kInvalidArgument));
  for (const char* bad : {"tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:x",
                          "tcp://localhost:80", "tcp://:80", "tcp://127.0.0.1:99999999999"}) {
    EXPECT_THAT(transport_->listen(bad), StatusIs(Code::kInvalidArgument)) << bad;
    EXPECT_THAT(blockOn(*loop_, transport_->connect(bad)), StatusIs(Code::kInvalidArgument)) << bad;
  }
}

TEST_F(UnixTransportTest, PeerCredentialsAreOurOwn) {
  auto l = *transport_->listen(path_);
  std::unique_ptr<Stream> server;
  spawn([](Listener& l, std::unique_ptr<Stream>& out) -> Task<void> { out = std::move(*co_await l.accept()); }(*l,
                                                                                                              server));
  auto client = blockOn(*loop_, transport_->connect(path_));
  ASSERT_THAT(client, IsOk());
  loop_->runUntil([&] { return server != nullptr; });
  auto cred = server->peerCredentials();
  ASSERT_THAT(cred, IsOk());
  EXPECT_EQ(cred->uid, getuid());
  EXPECT_EQ(cred->gid, getgid());
  EXPECT_EQ(cred->pid, getpid());
}

TEST_F(UnixTransportTest, SocketFileModeIs0600) {
  auto l = *transport_->listen(path_);
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  l->close();
  EXPECT_FALSE(std::filesystem::exists(path_)) << "close unlinks the socket";
}

TEST_F(UnixTransportTest, StaleSocketIsReplacedLiveOneIsNot) {
  // A stale socket: bound, never listening, fd closed.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  auto l = transport_->listen(path_);
  ASSERT_THAT(l, IsOk());
  EXPECT_THAT(transport_->listen(path_), StatusIs(Code::kAlreadyExists));
}

TEST_F(UnixTransportTest, ConnectErrors) {
  EXPECT_THAT(blockOn(*loop_, transport_->connect(path_)), StatusIs(Code::kNotFound));
  EXPECT_THAT(blockOn(*loop_, transport_->connect("relative.sock")), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(transport_->listen("/tmp/" + std::string(120, 'a')),
              StatusIs(Code::kInvalidArgument, "is too long (120 bytes) for sockaddr_un"));
}

// A socket deep in a long directory (a long vsock root, a long temp dir) is
// reached through its directory: only its own name must fit sockaddr_un.
TEST_F(UnixTransportTest, LongPathsWork) {
  std::string deep = dir_;
  while (deep.size() < 200) deep += "/a-rather-long-directory-name";
  std::filesystem::create_directories(deep);
  std::string path = deep + "/runhcs-" + std::string(64, 'f') + ".sock";
  ASSERT_GT(path.size(), 250u);
  auto l = transport_->listen("unix://" + path);
  ASSERT_THAT(l, IsOk());
  EXPECT_TRUE(std::filesystem::exists(path)) << "the socket is in its real directory";
  auto c = blockOn(*loop_, transport_->connect(path));
  ASSERT_THAT(c, IsOk());
  auto a = blockOn(*loop_, (*l)->accept());
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(blockOn(*loop_, (*c)->write("hi")), IsOk());
  EXPECT_EQ(*blockOn(*loop_, readExactly(**a, 2)), "hi");
  (*l)->close();
  (*a)->close();
  (*c)->close();
  // A stale socket at a long path is replaced, as at a short one.
  auto again = transport_->listen(path);
  EXPECT_THAT(again, IsOk());
}

TEST_F(UnixTransportTest, CloseCompletesAPendingReadAndAccept) {
  auto l = *transport_->listen(path_);
  std::optional<Status> acceptResult;
  spawn([](Listener& l, std::optional<Status>& out) -> Task<void> { out = (co_await l.accept()).status(); }(
      *l, acceptResult));
  l->close();
  loop_->runUntil([&] { return acceptResult.has_value(); });
  EXPECT_THAT(*acceptResult, StatusIs(Code::kCancelled));

  auto l2 = *transport_->listen(path_);
  spawn([](Listener& l) -> Task<void> {
    auto s = co_await l.accept();
    (void)s;  // accepted and dropped at once
  }(*l2));
  auto client = std::move(*blockOn(*loop_, transport_->connect(path_)));
  std::optional<Status> readResult;
  spawn([](Stream& s, std::optional<Status>& out) -> Task<void> {
    char buf[16];
    auto r = co_await s.read(buf);
    out = r.ok() ? (*r == 0 ? Status(Code::kOk, "") : InternalError("data")) : r.status();
  }(*client, readResult));
  loop_->runUntil([&] { return readResult.has_value(); });
  // The server dropped its end: a clean EOF.
  EXPECT_THAT(*readResult, IsOk());
}

TEST_F(UnixTransportTest, ReadExactlyReportsTruncation) {
  auto l = *transport_->listen(path_);
  spawn([](Listener& l) -> Task<void> {
    auto s = co_await l.accept();
    co_await (*s)->write("abc");
    (*s)->close();
  }(*l));
  auto client = std::move(*blockOn(*loop_, transport_->connect(path_)));
  auto r = blockOn(*loop_, readExactly(*client, 10));
  EXPECT_THAT(r, StatusIs(Code::kUnavailable, "after 3 of 10 bytes"));
  auto again = blockOn(*loop_, readExactly(*client, 1));
  EXPECT_TRUE(isCleanEof(again.status())) << again.status();
}

}  // namespace
}  // namespace hcsshim::runtime
