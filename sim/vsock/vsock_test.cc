// The vhost-user-vsock backend against a guest driver that behaves like
// QEMU plus Linux's virtio-vsock driver (shared memfd RAM, split rings,
// eventfds), with real unix sockets on the host side.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <thread>
#include <fcntl.h>
#include <sys/mman.h>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/vsock/server.h"
#include "sim/vsock/testing/guest_driver.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/unix_transport.h"

namespace hcsshim::vsock {
namespace {

using ::testing::HasSubstr;
using testing::GuestDriver;

// A blocking unix listener for a host port (<uds>_<port>).
runtime::UniqueFd listenAt(const std::string& path) {
  runtime::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  unlink(path.c_str());
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
  EXPECT_EQ(listen(fd.get(), 4), 0);
  return fd;
}

runtime::UniqueFd acceptWithin(int listenFd, int ms) {
  pollfd p{listenFd, POLLIN, 0};
  if (poll(&p, 1, ms) != 1) return runtime::UniqueFd();
  return runtime::UniqueFd(accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC));
}

std::string readSome(int fd, size_t max, int ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) != 1) return "<timeout>";
  std::string b(max, '\0');
  ssize_t n = read(fd, b.data(), max);
  return n < 0 ? "<error>" : b.substr(0, static_cast<size_t>(n));
}

// A read-only file (a VPMem image QEMU maps read-only) is mapped read-only:
// reading it works, writing into it is an error, not a fault.
TEST(GuestMemoryTest, ReadOnlyRegionsRefuseWrites) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/ro.img";
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(8192, 'r');
  }
  runtime::UniqueFd ram(memfd_create("ram", MFD_CLOEXEC));
  ASSERT_EQ(ftruncate(ram.get(), 65536), 0);
  std::vector<runtime::UniqueFd> fds;
  fds.push_back(std::move(ram));
  fds.emplace_back(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto mem = GuestMemory::map({MemoryRegion{0, 65536, 0x10000000, 0}, MemoryRegion{0x100000, 8192, 0x20000000, 0}},
                              std::move(fds));
  ASSERT_TRUE(mem.ok()) << mem.status().toString();
  auto ro = (*mem)->fromGuest(0x100000, 16);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ((*ro)[0], 'r');
  EXPECT_THAT((*mem)->fromGuest(0x100000, 16, /*write=*/true).status().message(), HasSubstr("read-only"));
  EXPECT_TRUE((*mem)->fromGuest(0x100, 16, /*write=*/true).ok());
  EXPECT_FALSE((*mem)->fromGuest(0x100000 + 8000, 500).ok()) << "past the end of the file's region";
  // A region larger than its file would fault on access: refused.
  std::vector<runtime::UniqueFd> small;
  small.emplace_back(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_THAT(GuestMemory::map({MemoryRegion{0, 1 << 20, 0, 0}}, std::move(small)).status().message(),
              HasSubstr("exceeds its file"));
}

class VsockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: unix socket paths have 107 bytes, QEMU's included.
    char tmpl[] = "/tmp/vsock-test.XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir_ = tmpl;
    uds_ = dir_ + "/vm.sock";
    auto rt = runtime::RealRuntime::create("vsock-test");
    ASSERT_TRUE(rt.ok());
    rt_ = std::move(*rt);
    auto s = VhostUserVsockServer::create(rt_->epoll(), rt_->transport(),
                                          ServerOptions{.socketPath = dir_ + "/vhost.sock",
                                                        .device = {.guestCid = 3, .uds = uds_}});
    ASSERT_TRUE(s.ok()) << s.status().toString();
    server_ = std::move(*s);
    runtime::spawn([](VhostUserVsockServer& s, Status& out, bool& done) -> runtime::Task<void> {
      out = co_await s.serve();
      done = true;
    }(*server_, served_, done_));
    thread_ = std::thread([this] { rt_->loop().runUntil([this] { return stop_; }); });
    ASSERT_TRUE(driver_.connect(dir_ + "/vhost.sock").ok());
  }
  void TearDown() override {
    rt_->loop().post([this] {
      stop_ = true;
      server_.reset();
    });
    thread_.join();
    runtime::drain(rt_->loop());
    std::filesystem::remove_all(dir_);
  }
  // onLoop runs fn on the server's thread and waits for it.
  template <typename F>
  auto onLoop(F fn) {
    std::promise<decltype(fn())> p;
    rt_->loop().post([&] { p.set_value(fn()); });
    return p.get_future().get();
  }

  std::string dir_, uds_;
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::unique_ptr<VhostUserVsockServer> server_;
  Status served_;
  bool done_ = false, stop_ = false;
  std::thread thread_;
  GuestDriver driver_;
};

TEST_F(VsockTest, NegotiatesWhatQemuRequiresAndReportsTheCid) {
  auto f = driver_.request(kGetFeatures, "");
  ASSERT_TRUE(f.ok());
  uint64_t features;
  std::memcpy(&features, f->data(), 8);
  EXPECT_EQ(features, kFeatureVersion1 | kFeatureProtocolFeatures);
  auto pf = driver_.request(kGetProtocolFeatures, "");
  ASSERT_TRUE(pf.ok());
  uint64_t protocol;
  std::memcpy(&protocol, pf->data(), 8);
  EXPECT_TRUE(protocol & kProtocolConfig);
  EXPECT_TRUE(protocol & kProtocolReplyAck);
  std::string q(12, '\0');
  q[4] = 8;  // offset 0, size 8, flags 0
  auto config = driver_.request(kGetConfig, q + std::string(8, '\0'));
  ASSERT_TRUE(config.ok());
  ASSERT_EQ(config->size(), 20u);
  uint64_t cid;
  std::memcpy(&cid, config->data() + 12, 8);
  EXPECT_EQ(cid, 3u);
}

TEST_F(VsockTest, GuestConnectsToAHostListenerAndBytesFlowBothWays) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto l = listenAt(uds_ + "_1073741824");
  driver_.send(GuestDriver::toHost(5001, 1073741824, Op::kRequest));
  auto host = acceptWithin(l.get(), 5000);
  ASSERT_TRUE(host);
  auto resp = driver_.receive();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->hdr.op, Op::kResponse) << describe(resp->hdr);
  EXPECT_EQ(resp->hdr.srcCid, 2u);
  EXPECT_EQ(resp->hdr.dstPort, 5001u);
  EXPECT_EQ(resp->hdr.srcPort, 1073741824u);

  driver_.send(GuestDriver::toHost(5001, 1073741824, Op::kRw), "hello from the guest");
  EXPECT_EQ(readSome(host.get(), 100), "hello from the guest");
  ASSERT_EQ(write(host.get(), "and from the host", 17), 17);
  auto rw = driver_.receiveOp(Op::kRw);
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->payload, "and from the host");

  // The guest closes: SHUTDOWN both ways -> the host sees EOF, we RST.
  driver_.send([] {
    auto h = GuestDriver::toHost(5001, 1073741824, Op::kShutdown);
    h.flags = kShutdownRcv | kShutdownSend;
    return h;
  }());
  EXPECT_EQ(readSome(host.get(), 10), "");
  auto rst = driver_.receiveOp(Op::kRst);
  ASSERT_TRUE(rst);
  EXPECT_EQ(onLoop([&] { return server_->device().connections(); }), 0u);
}

TEST_F(VsockTest, GuestConnectingToNothingIsReset) {
  ASSERT_TRUE(driver_.bringUp().ok());
  driver_.send(GuestDriver::toHost(5002, 4242, Op::kRequest));
  auto p = driver_.receive();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->hdr.op, Op::kRst);
  EXPECT_EQ(p->hdr.dstPort, 5002u);
}

TEST_F(VsockTest, HostConnectsToAGuestListenerWithConnect) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto c = runtime::connectUnixBlocking(uds_);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(write(c->get(), "CONNECT 5000\n", 13), 13);
  auto req = driver_.receive();
  ASSERT_TRUE(req);
  ASSERT_EQ(req->hdr.op, Op::kRequest);
  EXPECT_EQ(req->hdr.dstPort, 5000u);
  EXPECT_EQ(req->hdr.dstCid, 3u);
  uint32_t hostPort = req->hdr.srcPort;
  driver_.send(GuestDriver::toHost(5000, hostPort, Op::kResponse));
  EXPECT_EQ(readSome(c->get(), 64), "OK " + std::to_string(hostPort) + "\n");
  ASSERT_EQ(write(c->get(), "ping", 4), 4);
  auto rw = driver_.receiveOp(Op::kRw);
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->payload, "ping");
  driver_.send(GuestDriver::toHost(5000, hostPort, Op::kRw), "pong");
  EXPECT_EQ(readSome(c->get(), 64), "pong");
}

TEST_F(VsockTest, HostConnectToAGuestPortNobodyListensOnHangsUp) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto c = runtime::connectUnixBlocking(uds_);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(write(c->get(), "CONNECT 77\n", 11), 11);
  auto req = driver_.receive();
  ASSERT_TRUE(req);
  driver_.send([&] {
    auto h = GuestDriver::toHost(77, req->hdr.srcPort, Op::kRst);
    return h;
  }());
  EXPECT_EQ(readSome(c->get(), 64), "");  // EOF, no "OK"
}

TEST_F(VsockTest, BadConnectLineIsRefused) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto c = runtime::connectUnixBlocking(uds_);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(write(c->get(), "CONNECT x12\n", 12), 12);
  EXPECT_EQ(readSome(c->get(), 64), "");
  EXPECT_FALSE(driver_.receive(200));  // nothing reached the guest
}

TEST_F(VsockTest, HostDataRespectsTheGuestsCreditAndSplitsIntoItsBuffers) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto l = listenAt(uds_ + "_9");
  const uint32_t guestBuf = 16384;
  driver_.send(GuestDriver::toHost(6000, 9, Op::kRequest, guestBuf));
  auto host = acceptWithin(l.get(), 5000);
  ASSERT_TRUE(host);
  ASSERT_TRUE(driver_.receiveOp(Op::kResponse));
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  std::thread writer([&] { (void)!write(host.get(), data.data(), data.size()); });
  std::string got;
  uint32_t consumed = 0;
  bool sawCreditRequest = false;
  while (got.size() < data.size()) {
    auto p = driver_.receive(5000);
    ASSERT_TRUE(p) << "stalled after " << got.size() << " bytes";
    if (p->hdr.op == Op::kCreditRequest) {
      sawCreditRequest = true;
      continue;
    }
    ASSERT_EQ(p->hdr.op, Op::kRw) << describe(p->hdr);
    EXPECT_LE(p->payload.size() + kHeaderSize, GuestDriver::kRxBufferSize);
    got += p->payload;
    // Never beyond what the guest allowed: received - consumed <= buf_alloc.
    ASSERT_LE(got.size() - consumed, guestBuf);
    if (got.size() - consumed >= guestBuf) {
      consumed = static_cast<uint32_t>(got.size());
      driver_.send(GuestDriver::toHost(6000, 9, Op::kCreditUpdate, guestBuf, consumed));
    }
  }
  writer.join();
  EXPECT_EQ(got, data);
  EXPECT_TRUE(sawCreditRequest);  // it ran out and asked
}

TEST_F(VsockTest, GuestSendingBeyondOurCreditIsReset) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto l = listenAt(uds_ + "_10");
  driver_.send(GuestDriver::toHost(6001, 10, Op::kRequest));
  auto host = acceptWithin(l.get(), 5000);
  ASSERT_TRUE(host);
  ASSERT_TRUE(driver_.receiveOp(Op::kResponse));
  // The host does not read; the guest sends 5 x 64 KiB > our 256 KiB.
  std::string chunk(kMaxPayload, 'x');
  shutdown(host.get(), SHUT_RD);
  for (int i = 0; i < 5; ++i) driver_.send(GuestDriver::toHost(6001, 10, Op::kRw), chunk);
  EXPECT_TRUE(driver_.receiveOp(Op::kRst));
}

TEST_F(VsockTest, PacketsForUnknownConnectionsOrWrongCidGetRst) {
  ASSERT_TRUE(driver_.bringUp().ok());
  driver_.send(GuestDriver::toHost(7000, 7001, Op::kRw), "stray");
  auto p = driver_.receive();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->hdr.op, Op::kRst);
  auto h = GuestDriver::toHost(7000, 7001, Op::kRequest);
  h.srcCid = 99;
  driver_.send(h);
  p = driver_.receive();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->hdr.op, Op::kRst);
  driver_.send(GuestDriver::toHost(7000, 7001, Op::kRst));  // never an RST for an RST
  EXPECT_FALSE(driver_.receive(200));
}

TEST_F(VsockTest, MalformedMessagesAreRefusedAndTheDeviceGoesOn) {
  // Wrong payload size, queue index out of range, not a power of two: each
  // refused (NEED_REPLY answers 1), and the device still comes up after.
  ASSERT_TRUE(driver_.request(kGetFeatures, "").ok());
  ASSERT_TRUE(driver_.request(kGetProtocolFeatures, "").ok());
  std::string pf(8, '\0');
  pf[0] = static_cast<char>(kProtocolReplyAck | kProtocolMq);
  pf[1] = static_cast<char>(kProtocolConfig >> 8);
  ASSERT_TRUE(driver_.request(kSetProtocolFeatures, pf).ok());
  std::string one(8, '\0');
  one[0] = 1;
  EXPECT_EQ(*driver_.request(kSetFeatures, "abc", {}, true), one);
  std::string st(8, '\0');
  st[0] = 7;  // queue 7
  st[4] = 16;
  EXPECT_EQ(*driver_.request(kSetVringNum, st, {}, true), one);
  st[0] = 0;
  st[4] = 17;  // 17 entries
  EXPECT_EQ(*driver_.request(kSetVringNum, st, {}, true), one);
  std::string table(8 + 32, '\0');
  table[0] = 1;  // one region of size 0
  EXPECT_EQ(*driver_.request(kSetMemTable, table, {}, true), one);
  EXPECT_EQ(*driver_.request(999, "", {}, true), one);
  ASSERT_TRUE(driver_.bringUp().ok());
  driver_.send(GuestDriver::toHost(5002, 4242, Op::kRequest));
  EXPECT_TRUE(driver_.receiveOp(Op::kRst));
}

TEST_F(VsockTest, OversizeMessageEndsTheConnectionWithAnError) {
  std::string h(12, '\0');
  h[0] = 1;
  h[4] = 1;
  h[10] = 0x10;  // 1 MiB payload announced
  ASSERT_TRUE(driver_.sendRaw(h).ok());
  EXPECT_TRUE(driver_.hungUp(5000));
  EXPECT_TRUE(onLoop([&] { return done_; }));
  EXPECT_THAT(served_.message(), HasSubstr("exceeds 4096"));
}

TEST_F(VsockTest, DescriptorOutsideGuestMemoryBreaksTheQueueNotTheProcess) {
  ASSERT_TRUE(driver_.bringUp().ok());
  // A tx chain whose descriptor points past the end of guest memory.
  uint8_t* desc = driver_.memory() + GuestDriver::kTxRing;
  uint64_t addr = GuestDriver::kMemSize - 8;
  uint32_t len = 4096;
  uint16_t flags = 0, next = 0;
  std::memcpy(desc, &addr, 8);
  std::memcpy(desc + 8, &len, 4);
  std::memcpy(desc + 12, &flags, 2);
  std::memcpy(desc + 14, &next, 2);
  uint8_t* av = driver_.memory() + GuestDriver::kTxRing + 16 * GuestDriver::kQueueSize;
  uint16_t head = 0, idx = 1;
  std::memcpy(av + 4, &head, 2);
  __atomic_store_n(reinterpret_cast<uint16_t*>(av + 2), idx, __ATOMIC_RELEASE);
  driver_.kickTx();
  EXPECT_TRUE(onLoop([&] {
    for (int i = 0; i < 100 && !server_->backend().vring(1).queue.broken(); ++i) {
    }
    return true;
  }));
  usleep(100000);
  EXPECT_TRUE(onLoop([&] { return server_->backend().vring(1).queue.broken(); }));
  EXPECT_EQ(driver_.txUsed(), 0);  // nothing was consumed from the bad chain
  // The vhost-user connection still answers.
  EXPECT_TRUE(driver_.request(kGetFeatures, "").ok());
}

// QEMU stops the rings when the VM pauses (GET_VRING_BASE) and sets them up
// again on resume: connections survive, and what the host sent meanwhile
// arrives after.
TEST_F(VsockTest, ConnectionsSurviveRingsStoppedForAPause) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto l = listenAt(uds_ + "_12");
  driver_.send(GuestDriver::toHost(6003, 12, Op::kRequest));
  auto host = acceptWithin(l.get(), 5000);
  ASSERT_TRUE(host);
  ASSERT_TRUE(driver_.receiveOp(Op::kResponse));
  std::string st(8, '\0');
  uint16_t bases[2];
  for (uint32_t q = 0; q < 2; ++q) {
    st[0] = static_cast<char>(q);
    ASSERT_TRUE(driver_.request(kSetVringEnable, st).ok());
    auto base = driver_.request(kGetVringBase, st);
    ASSERT_TRUE(base.ok());
    ASSERT_EQ(base->size(), 8u);
    std::memcpy(&bases[q], base->data() + 4, 2);
  }
  ASSERT_EQ(write(host.get(), "sent while paused", 17), 17);
  EXPECT_FALSE(driver_.receive(300)) << "nothing is delivered while the rings are stopped";
  EXPECT_EQ(onLoop([&] { return server_->device().connections(); }), 1u);
  ASSERT_TRUE(driver_.resume(bases[0], bases[1]).ok());
  auto rw = driver_.receiveOp(Op::kRw);
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->payload, "sent while paused");
  driver_.send(GuestDriver::toHost(6003, 12, Op::kRw), "and after");
  EXPECT_EQ(readSome(host.get(), 64), "and after");
}

// QEMU replaces a running ring's call fd whenever the guest masks or
// unmasks its MSI-X vector: the ring goes on from where it was (it used to
// restart from the base it was set up with and replay what the guest had
// long since sent).
TEST_F(VsockTest, ANewCallFdWhileRunningDoesNotRewindTheRings) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto l = listenAt(uds_ + "_13");
  driver_.send(GuestDriver::toHost(6004, 13, Op::kRequest));
  auto host = acceptWithin(l.get(), 5000);
  ASSERT_TRUE(host);
  ASSERT_TRUE(driver_.receiveOp(Op::kResponse));
  driver_.send(GuestDriver::toHost(6004, 13, Op::kRw), "one");
  EXPECT_EQ(readSome(host.get(), 64), "one");
  ASSERT_TRUE(driver_.replaceCallFds().ok());
  driver_.send(GuestDriver::toHost(6004, 13, Op::kRw), "two");
  EXPECT_EQ(readSome(host.get(), 64), "two") << "only the new packet, and the connection still open";
  ASSERT_EQ(write(host.get(), "back", 4), 4);
  auto rw = driver_.receiveOp(Op::kRw);
  ASSERT_TRUE(rw) << "the guest hears through its new call fd";
  EXPECT_EQ(rw->payload, "back");
  EXPECT_EQ(onLoop([&] { return server_->device().connections(); }), 1u);
}

TEST_F(VsockTest, QemuHangingUpEndsServeAndEveryConnection) {
  ASSERT_TRUE(driver_.bringUp().ok());
  auto l = listenAt(uds_ + "_11");
  driver_.send(GuestDriver::toHost(6002, 11, Op::kRequest));
  auto host = acceptWithin(l.get(), 5000);
  ASSERT_TRUE(host);
  ASSERT_TRUE(driver_.receiveOp(Op::kResponse));
  driver_ = GuestDriver();  // QEMU's socket closes
  EXPECT_EQ(readSome(host.get(), 10), "");  // the host stream ends
  EXPECT_TRUE(onLoop([&] { return done_ && served_.ok(); }));
}

}  // namespace
}  // namespace hcsshim::vsock
