// WinsockTransport and WindowsRuntime, under Wine (or on Windows): loopback
// TCP streams end to end, EOF, a close that ends a blocked read, a listener
// closed under a blocked accept, refused and malformed addresses, and
// Hyper-V sockets - refused precisely where the host has no AF_HYPERV.
#include <gtest/gtest.h>
#include <windows.h>

#include <string>

#include "platforms/windows/windows_runtime.h"

namespace hcsshim::platforms::windows {
namespace {

using runtime::Task;

bool underWine() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

class WinsockTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rt = WindowsRuntime::create("winsock-test");
    ASSERT_TRUE(rt.ok()) << rt.status().toString();
    rt_ = std::move(*rt);
  }
  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }
  std::unique_ptr<WindowsRuntime> rt_;
};

TEST_F(WinsockTransportTest, BytesCrossALoopbackStreamBothWaysThenEof) {
  auto l = rt_->transport().listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(l.ok()) << l.status().toString();
  std::string address = (*l)->address();
  EXPECT_EQ(address.rfind("tcp://127.0.0.1:", 0), 0u) << address;
  EXPECT_NE(address, "tcp://127.0.0.1:0") << "the picked port is named";
  std::string big(3 << 20, 'x');  // more than one send
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  std::string got, reply;
  run([](runtime::Listener& l, runtime::Transport& t, std::string address, const std::string& big, std::string& got,
         std::string& reply) -> Task<void> {
    auto client_task = t.connect(address);
    auto client = co_await std::move(client_task);
    EXPECT_TRUE(client.ok()) << client.status().toString();
    if (!client.ok()) co_return;
    auto accept_task = l.accept();
    auto server = co_await std::move(accept_task);
    EXPECT_TRUE(server.ok()) << server.status().toString();
    if (!server.ok()) co_return;
    runtime::spawn([](runtime::Stream& s, const std::string& big) -> Task<void> {
      auto write_task = s.write(big);
      Status st = co_await std::move(write_task);
      EXPECT_TRUE(st.ok()) << st.toString();
      EXPECT_TRUE(s.shutdownWrite().ok());
    }(**client, big));
    auto read_task = runtime::readToEnd(**server);
    auto all = co_await std::move(read_task);
    EXPECT_TRUE(all.ok()) << all.status().toString();
    if (all.ok()) got = *all;
    auto back_task = (*server)->write("ack");
    EXPECT_TRUE((co_await std::move(back_task)).ok());
    (*server)->close();
    auto reply_task = runtime::readToEnd(**client);
    auto r = co_await std::move(reply_task);
    if (r.ok()) reply = *r;
  }(**l, rt_->transport(), address, big, got, reply));
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big) << "the bytes arrived in order";
  EXPECT_EQ(reply, "ack");
}

TEST_F(WinsockTransportTest, CloseEndsABlockedReadAndABlockedAccept) {
  auto l = rt_->transport().listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(l.ok());
  auto client = run(rt_->transport().connect((*l)->address()));
  ASSERT_TRUE(client.ok()) << client.status().toString();
  auto server = run((*l)->accept());
  ASSERT_TRUE(server.ok());
  // Nobody writes: the read blocks until the stream is closed under it.
  rt_->loop().addTimer(std::chrono::milliseconds(100), [&] { (*client)->close(); });
  char buf[16];
  auto r = run((*client)->read(buf));
  EXPECT_FALSE(r.ok()) << "a read on a stream closed under it fails";
  auto after = run((*client)->write("x"));
  EXPECT_EQ(after.code(), Code::kUnavailable) << after.toString();
  // The peer sees the close as EOF.
  auto eof = run((*server)->read(buf));
  ASSERT_TRUE(eof.ok()) << eof.status().toString();
  EXPECT_EQ(*eof, 0u);
  rt_->loop().addTimer(std::chrono::milliseconds(100), [&] { (*l)->close(); });
  auto a = run((*l)->accept());
  EXPECT_EQ(a.status().code(), Code::kCancelled) << a.status().toString();
}

TEST_F(WinsockTransportTest, AnAddressNobodyListensOnIsUnavailable) {
  auto l = rt_->transport().listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(l.ok());
  std::string address = (*l)->address();
  (*l)->close();
  auto c = run(rt_->transport().connect(address));
  EXPECT_EQ(c.status().code(), Code::kUnavailable) << c.status().toString();
  EXPECT_NE(c.status().message().find("WSA error"), std::string::npos) << c.status().toString();
}

TEST_F(WinsockTransportTest, MalformedAndNonLoopbackAddressesAreRefused) {
  for (const char* bad : {"", "tcp://", "tcp://10.0.0.1:80", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:99999",
                          "tcp://127.0.0.1:8a", "unix:///tmp/x.sock", "hvsock://nope/vsock:1",
                          "hvsock://2ad3a5f0-1b6c-4e2d-9f1a-0c1d2e3f4a5b/vsock:x", "npipe:////./pipe/", "npipe:////./pipe/a//b",
                          "npipe://./pipe/a\\", "\\\\.\\pipe\\..\\x", "\\\\.\\pipe\\a\\.\\b", "\\\\.\\pipe\\", "npipe://host/pipe/x", "npipe:////./pipe/bad\xff"}) {
    auto l = rt_->transport().listen(bad);
    EXPECT_EQ(l.status().code(), Code::kInvalidArgument) << bad << ": " << l.status().toString();
    auto c = run(rt_->transport().connect(bad));
    EXPECT_EQ(c.status().code(), Code::kInvalidArgument) << bad << ": " << c.status().toString();
  }
}

TEST_F(WinsockTransportTest, HyperVSocketsAreRefusedPreciselyWhereTheHostHasNone) {
  auto l = rt_->transport().listen("hvsock://00000000-0000-0000-0000-000000000000/vsock:1073741824");
  if (!underWine()) {
    // On a Hyper-V host a wildcard listener binds; elsewhere it is refused precisely.
    if (l.ok()) {
      (*l)->close();
      return;
    }
  }
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), Code::kUnimplemented) << l.status().toString();
  EXPECT_NE(l.status().message().find("hvsock://00000000-0000-0000-0000-000000000000/40000000-facb-11e6-bd58-64006a7986d3"),
            std::string::npos)
      << l.status().toString();
  auto c = run(rt_->transport().connect("hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb878/vsock:1"));
  EXPECT_EQ(c.status().code(), Code::kUnimplemented) << c.status().toString();
}

std::string pipeName(const char* what) {
  return "npipe:////./pipe/hcsshim-cpp-test-" + std::to_string(GetCurrentProcessId()) + "-" + what;
}

TEST_F(WinsockTransportTest, ANamedPipeCarriesBytesBothWaysAndItsCloseIsEof) {
  std::string address = pipeName("echo");
  auto l = rt_->transport().listen(address);
  ASSERT_TRUE(l.ok()) << l.status().toString();
  EXPECT_EQ((*l)->address(), "\\\\.\\pipe\\hcsshim-cpp-test-" + std::to_string(GetCurrentProcessId()) + "-echo");
  // A client may connect before accept is called (an instance waits).
  auto c1 = run(rt_->transport().connect(address));
  ASSERT_TRUE(c1.ok()) << c1.status().toString();
  auto s1 = run((*l)->accept());
  ASSERT_TRUE(s1.ok()) << s1.status().toString();
  std::string big(300000, 'p');
  big[12345] = 'q';
  std::string got;
  run([](runtime::Stream& from, runtime::Stream& to, const std::string& big, std::string& got) -> Task<void> {
    runtime::spawn([](runtime::Stream& s, const std::string& big) -> Task<void> {
      auto w = s.write(big);
      EXPECT_TRUE((co_await std::move(w)).ok());
      s.close();  // the peer reads EOF
    }(from, big));
    auto r = runtime::readToEnd(to);
    auto all = co_await std::move(r);
    EXPECT_TRUE(all.ok()) << all.status().toString();
    if (all.ok()) got = *all;
  }(**c1, **s1, big, got));
  EXPECT_TRUE(got == big) << got.size();
  // A second client gets an instance of its own.
  auto c2 = run(rt_->transport().connect(address));
  ASSERT_TRUE(c2.ok()) << c2.status().toString();
  auto s2 = run((*l)->accept());
  ASSERT_TRUE(s2.ok());
  ASSERT_TRUE(run((*s2)->write("two")).ok());
  char buf[8];
  auto n = run((*c2)->read(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "two");
  auto pid = (*s2)->peerCredentials();
  if (pid.ok()) {
    EXPECT_EQ(pid->pid, static_cast<int32_t>(GetCurrentProcessId()));
  }
}

TEST_F(WinsockTransportTest, APipeNameIsServedOnceAndItsCloseWakesABlockedAccept) {
  std::string address = pipeName("once");
  auto l = rt_->transport().listen(address);
  ASSERT_TRUE(l.ok()) << l.status().toString();
  auto again = rt_->transport().listen(address);
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists) << again.status().toString();
  rt_->loop().addTimer(std::chrono::milliseconds(100), [&] { (*l)->close(); });
  auto a = run((*l)->accept());
  EXPECT_EQ(a.status().code(), Code::kCancelled) << a.status().toString();
  auto nobody = run(rt_->transport().connect(pipeName("nobody")));
  EXPECT_EQ(nobody.status().code(), Code::kUnavailable) << nobody.status().toString();
  EXPECT_NE(nobody.status().message().find("nobody serves this pipe"), std::string::npos) << nobody.status().toString();
}

TEST_F(WinsockTransportTest, AClientThatHungUpBeforeAcceptDoesNotFailTheNext) {
  std::string address = pipeName("hangup");
  auto l = rt_->transport().listen(address);
  ASSERT_TRUE(l.ok()) << l.status().toString();
  auto probe = run(rt_->transport().connect(address));  // as `start` probes a server
  ASSERT_TRUE(probe.ok()) << probe.status().toString();
  (*probe)->close();
  // The server accepts (as a server always waits in accept); the next
  // client, busy until the hung-up instance is dropped, gets through.
  std::string got;
  bool accepted = false;
  runtime::spawn([](runtime::Listener& l, std::string& got, bool& done) -> Task<void> {
    auto accept_call = l.accept();
    auto s = co_await std::move(accept_call);
    EXPECT_TRUE(s.ok()) << s.status().toString();
    if (s.ok()) {
      auto read_call = runtime::readToEnd(**s);
      auto all = co_await std::move(read_call);
      if (all.ok()) got = *all;
    }
    done = true;
  }(**l, got, accepted));
  auto c = run(rt_->transport().connect(address));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  ASSERT_TRUE(run((*c)->write("after")).ok());
  (*c)->close();
  rt_->loop().runUntil([&] { return accepted; });
  EXPECT_EQ(got, "after");
}

TEST_F(WinsockTransportTest, APipeNameMayHavePartsAsHcsshimsShimAddressesDo) {
  std::string tail = "hcsshim-cpp-test-" + std::to_string(GetCurrentProcessId()) + "-nested-pipe";
  auto l = rt_->transport().listen("\\\\.\\pipe\\ProtectedPrefix\\Administrators\\" + tail);
  ASSERT_TRUE(l.ok()) << l.status().toString();
  EXPECT_EQ((*l)->address(), "\\\\.\\pipe\\ProtectedPrefix\\Administrators\\" + tail);
  // containerd's npipe form names the same pipe with slashes.
  auto c = run(rt_->transport().connect("npipe:////./pipe/ProtectedPrefix/Administrators/" + tail));
  ASSERT_TRUE(c.ok()) << c.status().toString();
  auto s = run((*l)->accept());
  ASSERT_TRUE(s.ok()) << s.status().toString();
  ASSERT_TRUE(run((*c)->write("nested")).ok());
  char buf[8];
  auto n = run((*s)->read(buf));
  ASSERT_TRUE(n.ok()) << n.status().toString();
  EXPECT_EQ(std::string(buf, *n), "nested");
}

TEST_F(WinsockTransportTest, TheRuntimeHasItsSeams) {
  EXPECT_EQ(rt_->credentials().pid, static_cast<int32_t>(GetCurrentProcessId()));
  EXPECT_NE(rt_->random().next(), rt_->random().next());
}

}  // namespace
}  // namespace hcsshim::platforms::windows
