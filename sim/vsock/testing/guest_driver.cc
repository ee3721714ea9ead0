#include "sim/vsock/testing/guest_driver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "sim/vsock/vhost_user.h"
#include "src/runtime/unix_transport.h"

namespace hcsshim::vsock::testing {

namespace {

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string state(uint32_t index, uint32_t num) {
  std::string s;
  put(s, index);
  put(s, num);
  return s;
}

}  // namespace

GuestDriver::GuestDriver() {
  memfd_.reset(memfd_create("guest-ram", MFD_CLOEXEC));
  (void)!ftruncate(memfd_.get(), kMemSize);
  mem_ = static_cast<uint8_t*>(mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_.get(), 0));
  for (auto& k : kick_) k.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  for (auto& c : call_) c.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

Status GuestDriver::connect(const std::string& socketPath) {
  for (int i = 0; i < 200; ++i) {
    auto fd = runtime::connectUnixBlocking(socketPath);
    if (fd.ok()) {
      sock_ = std::move(*fd);
      return OkStatus();
    }
    usleep(10000);
  }
  return UnavailableError("vhost-user socket " + socketPath + " does not answer");
}

Status GuestDriver::sendRaw(const std::string& bytes) {
  if (::send(sock_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    return UnavailableError(std::string("send: ") + std::strerror(errno));
  }
  return OkStatus();
}

StatusOr<std::string> GuestDriver::request(uint32_t req, const std::string& payload, std::vector<int> fds,
                                           bool needReply) {
  std::string msg;
  put<uint32_t>(msg, req);
  put<uint32_t>(msg, needReply ? 0x9 : 0x1);
  put<uint32_t>(msg, static_cast<uint32_t>(payload.size()));
  msg += payload;
  iovec iov{msg.data(), msg.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (!fds.empty()) {
    m.msg_control = control;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  if (sendmsg(sock_.get(), &m, MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    return UnavailableError(std::string("sendmsg: ") + std::strerror(errno));
  }
  bool hasReply = needReply || req == kGetFeatures || req == kGetProtocolFeatures || req == kGetQueueNum ||
                  req == kGetVringBase || req == kGetConfig;
  if (!hasReply) return std::string();
  char h[12];
  pollfd p{sock_.get(), POLLIN, 0};
  if (poll(&p, 1, 5000) != 1 || recv(sock_.get(), h, sizeof h, MSG_WAITALL) != sizeof h) {
    return UnavailableError("no reply");
  }
  uint32_t r, flags, size;
  std::memcpy(&r, h, 4);
  std::memcpy(&flags, h + 4, 4);
  std::memcpy(&size, h + 8, 4);
  if (r != req || flags != 0x5) return InvalidArgumentError("reply header " + std::to_string(r) + "/" + std::to_string(flags));
  std::string out(size, '\0');
  if (size && recv(sock_.get(), out.data(), size, MSG_WAITALL) != static_cast<ssize_t>(size)) {
    return UnavailableError("short reply");
  }
  return out;
}

bool GuestDriver::hungUp(int timeoutMs) {
  pollfd p{sock_.get(), POLLIN, 0};
  if (poll(&p, 1, timeoutMs) != 1) return false;
  char c;
  return recv(sock_.get(), &c, 1, MSG_DONTWAIT) == 0;
}

void GuestDriver::setRing(uint32_t index, uint64_t ring, uint16_t base) {
  std::string addr;
  put<uint32_t>(addr, index);
  put<uint32_t>(addr, 0);
  put<uint64_t>(addr, kUserBase + ring);
  put<uint64_t>(addr, kUserBase + used(ring));
  put<uint64_t>(addr, kUserBase + avail(ring));
  put<uint64_t>(addr, 0);
  (void)request(kSetVringNum, state(index, kQueueSize));
  (void)request(kSetVringBase, state(index, base));
  (void)request(kSetVringAddr, addr);
}

Status GuestDriver::bringUp() {
  auto f = request(kGetFeatures, "");
  if (!f.ok()) return f.status();
  HCS_RETURN_IF_ERROR(request(kGetProtocolFeatures, "").status());
  std::string pf;
  put<uint64_t>(pf, kProtocolMq | kProtocolReplyAck | kProtocolConfig);
  HCS_RETURN_IF_ERROR(request(kSetProtocolFeatures, pf).status());
  HCS_RETURN_IF_ERROR(request(kSetOwner, "").status());
  std::string feat;
  put<uint64_t>(feat, kFeatureVersion1 | kFeatureProtocolFeatures);
  HCS_RETURN_IF_ERROR(request(kSetFeatures, feat).status());
  std::string table;
  put<uint32_t>(table, 1);
  put<uint32_t>(table, 0);
  put<uint64_t>(table, 0);
  put<uint64_t>(table, kMemSize);
  put<uint64_t>(table, kUserBase);
  put<uint64_t>(table, 0);
  auto ack = request(kSetMemTable, table, {memfd_.get()}, true);
  if (!ack.ok()) return ack.status();
  if (*ack != std::string(8, '\0')) return InvalidArgumentError("SET_MEM_TABLE refused");
  setRing(0, kRxRing);
  setRing(1, kTxRing);
  for (uint32_t q = 0; q < 2; ++q) {
    std::string idx;
    put<uint64_t>(idx, q);
    HCS_RETURN_IF_ERROR(request(kSetVringCall, idx, {call_[q].get()}).status());
    HCS_RETURN_IF_ERROR(request(kSetVringKick, idx, {kick_[q].get()}).status());
  }
  for (uint16_t i = 0; i < kQueueSize; ++i) postRx(i);
  for (uint32_t q = 0; q < 2; ++q) {
    auto r = request(kSetVringEnable, state(q, 1), {}, true);
    if (!r.ok()) return r.status();
  }
  uint64_t one = 1;
  (void)!write(kick_[0].get(), &one, 8);
  return OkStatus();
}

Status GuestDriver::resume(uint16_t rxBase, uint16_t txBase) {
  setRing(0, kRxRing, rxBase);
  setRing(1, kTxRing, txBase);
  for (uint32_t q = 0; q < 2; ++q) {
    std::string idx;
    put<uint64_t>(idx, q);
    HCS_RETURN_IF_ERROR(request(kSetVringKick, idx, {kick_[q].get()}).status());
    auto r = request(kSetVringEnable, state(q, 1), {}, true);
    if (!r.ok()) return r.status();
  }
  return OkStatus();
}

Status GuestDriver::replaceCallFds() {
  for (uint32_t q = 0; q < 2; ++q) {
    call_[q].reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    std::string idx;
    put<uint64_t>(idx, q);
    HCS_RETURN_IF_ERROR(request(kSetVringCall, idx, {call_[q].get()}, true).status());
  }
  return OkStatus();
}

void GuestDriver::postRx(uint16_t d) {
  uint8_t* desc = mem_ + kRxRing + 16 * d;
  uint64_t addr = kRxBuffers + uint64_t{d} * kRxBufferSize;
  uint32_t len = kRxBufferSize;
  uint16_t flags = 2, next = 0;  // WRITE
  std::memcpy(desc, &addr, 8);
  std::memcpy(desc + 8, &len, 4);
  std::memcpy(desc + 12, &flags, 2);
  std::memcpy(desc + 14, &next, 2);
  uint8_t* av = mem_ + avail(kRxRing);
  std::memcpy(av + 4 + 2 * (rxAvail_ % kQueueSize), &d, 2);
  ++rxAvail_;
  __atomic_store_n(reinterpret_cast<uint16_t*>(av + 2), rxAvail_, __ATOMIC_RELEASE);
}

Header GuestDriver::toHost(uint32_t guestPort, uint32_t hostPort, Op op, uint32_t bufAlloc, uint32_t fwdCnt) {
  return Header{.srcCid = 3, .dstCid = 2, .srcPort = guestPort, .dstPort = hostPort, .type = kTypeStream, .op = op,
                .bufAlloc = bufAlloc, .fwdCnt = fwdCnt};
}

uint16_t GuestDriver::txUsed() const {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(mem_ + used(kTxRing) + 2), __ATOMIC_ACQUIRE);
}

void GuestDriver::kickTx() {
  uint64_t one = 1;
  (void)!write(kick_[1].get(), &one, 8);
}

void GuestDriver::send(const Header& hdr, const std::string& payload) {
  while (static_cast<uint16_t>(txAvail_ - txUsed()) >= kQueueSize / 2) usleep(1000);  // slots in flight
  uint16_t slot = txAvail_ % (kQueueSize / 2);
  uint64_t base = kTxSlots + slot * kTxSlotSize;
  Header h = hdr;
  h.len = static_cast<uint32_t>(payload.size());
  std::string bytes;
  appendHeader(bytes, h);
  std::memcpy(mem_ + base, bytes.data(), bytes.size());
  std::memcpy(mem_ + base + 64, payload.data(), payload.size());
  auto writeDesc = [&](uint16_t d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t* desc = mem_ + kTxRing + 16 * d;
    std::memcpy(desc, &addr, 8);
    std::memcpy(desc + 8, &len, 4);
    std::memcpy(desc + 12, &flags, 2);
    std::memcpy(desc + 14, &next, 2);
  };
  uint16_t d0 = static_cast<uint16_t>(2 * slot), d1 = static_cast<uint16_t>(2 * slot + 1);
  writeDesc(d0, base, kHeaderSize, payload.empty() ? 0 : 1, d1);
  if (!payload.empty()) writeDesc(d1, base + 64, static_cast<uint32_t>(payload.size()), 0, 0);
  uint8_t* av = mem_ + avail(kTxRing);
  std::memcpy(av + 4 + 2 * (txAvail_ % kQueueSize), &d0, 2);
  ++txAvail_;
  __atomic_store_n(reinterpret_cast<uint16_t*>(av + 2), txAvail_, __ATOMIC_RELEASE);
  kickTx();
}

std::optional<Packet> GuestDriver::receive(int timeoutMs) {
  uint8_t* u = mem_ + used(kRxRing);
  for (;;) {
    uint16_t idx = __atomic_load_n(reinterpret_cast<uint16_t*>(u + 2), __ATOMIC_ACQUIRE);
    if (idx != rxUsedSeen_) {
      uint32_t id, len;
      std::memcpy(&id, u + 4 + 8 * (rxUsedSeen_ % kQueueSize), 4);
      std::memcpy(&len, u + 8 + 8 * (rxUsedSeen_ % kQueueSize), 4);
      ++rxUsedSeen_;
      std::string bytes(reinterpret_cast<char*>(mem_ + kRxBuffers + uint64_t{id} * kRxBufferSize),
                        std::min<uint32_t>(len, kRxBufferSize));
      postRx(static_cast<uint16_t>(id));
      uint64_t one = 1;
      (void)!write(kick_[0].get(), &one, 8);
      auto h = parseHeader(bytes);
      if (!h.ok()) return Packet{};
      return Packet{*h, bytes.substr(kHeaderSize)};
    }
    pollfd p{call_[0].get(), POLLIN, 0};
    if (poll(&p, 1, timeoutMs) != 1) return std::nullopt;
    uint64_t n;
    (void)!read(call_[0].get(), &n, 8);
  }
}

std::optional<Packet> GuestDriver::receiveOp(Op op, int timeoutMs, std::vector<Packet>* skipped) {
  for (;;) {
    auto p = receive(timeoutMs);
    if (!p || p->hdr.op == op) return p;
    if (skipped) skipped->push_back(std::move(*p));
  }
}

}  // namespace hcsshim::vsock::testing
