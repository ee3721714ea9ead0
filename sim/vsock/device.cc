#include "sim/vsock/device.h"

#include <deque>

#include "src/common/log.h"

namespace hcsshim::vsock {

using runtime::Task;

struct VsockDevice::Conn {
  enum class State { kDialingHost, kRequestSent, kEstablished };
  uint32_t hostPort = 0, guestPort = 0;
  State state = State::kDialingHost;
  std::unique_ptr<runtime::Stream> stream;
  bool dead = false;
  // Towards the guest: its buffer and what it has consumed, what we sent.
  uint32_t peerBufAlloc = 0, peerFwdCnt = 0, txCnt = 0;
  bool creditRequested = false;
  runtime::WaitList creditWake;
  // From the guest: received, delivered to the host stream, last reported.
  uint32_t rxCnt = 0, fwdCnt = 0, reportedFwdCnt = 0;
  std::deque<std::string> toHost;
  runtime::WaitList writerWake;
  bool guestShutSend = false, guestShutRcv = false;
  bool hostWriteShut = false, hostEof = false;
  runtime::TimerId connectTimer = 0;

  uint32_t credit() const {
    uint32_t inFlight = txCnt - peerFwdCnt;
    return inFlight > peerBufAlloc ? 0 : peerBufAlloc - inFlight;
  }
  std::string id() const { return std::to_string(hostPort) + "/" + std::to_string(guestPort); }
};

VsockDevice::VsockDevice(runtime::EventLoop& loop, runtime::Transport& transport, GuestLink& guest,
                         DeviceOptions options)
    : loop_(loop), transport_(transport), guest_(guest), options_(std::move(options)) {}

VsockDevice::~VsockDevice() {
  *alive_ = false;
  if (listener_) listener_->close();
  for (auto& [k, c] : conns_) {
    c->dead = true;
    if (c->connectTimer) loop_.cancelTimer(c->connectTimer);
    if (c->stream) c->stream->close();
    c->creditWake.notifyAll();
    c->writerWake.notifyAll();
  }
}

Status VsockDevice::start() {
  auto l = transport_.listen("unix://" + options_.uds);
  if (!l.ok()) return l.status();
  listener_ = std::move(*l);
  runtime::spawn(acceptLoop());
  return OkStatus();
}

void VsockDevice::send(Conn& c, Op op, uint32_t flags, std::string payload) {
  Packet p;
  p.hdr = Header{.srcCid = kHostCid,
                 .dstCid = options_.guestCid,
                 .srcPort = c.hostPort,
                 .dstPort = c.guestPort,
                 .len = static_cast<uint32_t>(payload.size()),
                 .type = kTypeStream,
                 .op = op,
                 .flags = flags,
                 .bufAlloc = options_.bufAlloc,
                 .fwdCnt = c.fwdCnt};
  c.reportedFwdCnt = c.fwdCnt;
  p.payload = std::move(payload);
  guest_.sendToGuest(std::move(p));
}

void VsockDevice::sendRst(const Header& to) {
  Packet p;
  p.hdr = Header{.srcCid = kHostCid, .dstCid = to.srcCid, .srcPort = to.dstPort, .dstPort = to.srcPort,
                 .type = kTypeStream, .op = Op::kRst};
  guest_.sendToGuest(std::move(p));
}

void VsockDevice::drop(const std::shared_ptr<Conn>& c) {
  if (c->dead) return;
  c->dead = true;
  if (c->connectTimer) loop_.cancelTimer(c->connectTimer);
  conns_.erase(Key{c->hostPort, c->guestPort});
  if (c->stream) c->stream->close();
  c->creditWake.notifyAll();
  c->writerWake.notifyAll();
}

void VsockDevice::reset(const std::shared_ptr<Conn>& c, const char* why) {
  if (c->dead) return;
  HLOG(Debug, "vsock.conn.reset").kv("conn", c->id()).kv("reason", why);
  send(*c, Op::kRst);
  drop(c);
}

// maybeFinish: both directions are over - the guest will send nothing more
// and all it sent reached the host, and nothing more flows to the guest.
void VsockDevice::maybeFinish(const std::shared_ptr<Conn>& c) {
  if (c->dead || c->state != Conn::State::kEstablished) return;
  bool inDone = c->guestShutSend && c->toHost.empty() && c->hostWriteShut;
  bool outDone = c->hostEof || c->guestShutRcv;
  if (inDone && outDone) {
    HLOG(Debug, "vsock.conn.closed").kv("conn", c->id());
    send(*c, Op::kRst);
    drop(c);
  }
}

void VsockDevice::established(const std::shared_ptr<Conn>& c) {
  c->state = Conn::State::kEstablished;
  runtime::spawn(hostToGuest(c));
  runtime::spawn(guestToHost(c));
}

void VsockDevice::onGuestPacket(Packet p) {
  const Header& h = p.hdr;
  if (h.op == Op::kRst && (h.srcCid != options_.guestCid || h.dstCid != kHostCid)) return;
  if (h.srcCid != options_.guestCid || h.dstCid != kHostCid || h.type != kTypeStream) {
    HLOG(Warn, "vsock.packet.refused").kv("packet", describe(h)).kv("reason", "wrong CID or type");
    sendRst(h);
    return;
  }
  auto it = conns_.find(Key{h.dstPort, h.srcPort});
  if (it == conns_.end()) {
    if (h.op == Op::kRequest) {
      auto c = std::make_shared<Conn>();
      c->hostPort = h.dstPort;
      c->guestPort = h.srcPort;
      c->peerBufAlloc = h.bufAlloc;
      c->peerFwdCnt = h.fwdCnt;
      conns_.emplace(Key{c->hostPort, c->guestPort}, c);
      runtime::spawn(dialHost(c));
    } else if (h.op != Op::kRst) {
      sendRst(h);
    }
    return;
  }
  std::shared_ptr<Conn> c = it->second;
  c->peerBufAlloc = h.bufAlloc;
  c->peerFwdCnt = h.fwdCnt;
  c->creditRequested = false;
  c->creditWake.notifyAll();
  switch (h.op) {
    case Op::kResponse:
      if (c->state != Conn::State::kRequestSent) return reset(c, "RESPONSE on an open connection");
      loop_.cancelTimer(std::exchange(c->connectTimer, 0));
      runtime::spawn([](VsockDevice* self, std::shared_ptr<bool> alive, std::shared_ptr<Conn> c) -> Task<void> {
        std::string ok = "OK " + std::to_string(c->hostPort) + "\n";  // outlives the write
        Status st = co_await c->stream->write(ok);
        if (!*alive || c->dead) co_return;
        if (!st.ok()) co_return self->reset(c, "host hung up before OK");
        self->established(c);
      }(this, alive_, c));
      return;
    case Op::kRw: {
      if (c->state != Conn::State::kEstablished || c->guestShutSend) return reset(c, "data outside an open stream");
      if (p.payload.size() != h.len) return reset(c, "payload length differs from the header");
      uint32_t queued = c->rxCnt - c->fwdCnt;
      if (h.len > options_.bufAlloc - queued) return reset(c, "guest sent beyond our credit");
      c->rxCnt += h.len;
      if (h.len) c->toHost.push_back(std::move(p.payload));
      c->writerWake.notifyAll();
      return;
    }
    case Op::kCreditUpdate:
      return;
    case Op::kCreditRequest:
      send(*c, Op::kCreditUpdate);
      return;
    case Op::kShutdown:
      c->guestShutSend |= (h.flags & kShutdownSend) != 0;
      c->guestShutRcv |= (h.flags & kShutdownRcv) != 0;
      c->writerWake.notifyAll();
      maybeFinish(c);
      return;
    case Op::kRst:
      HLOG(Debug, "vsock.conn.reset_by_guest").kv("conn", c->id());
      drop(c);
      return;
    default:
      return reset(c, "unexpected op");
  }
}

void VsockDevice::resetAll() {
  auto conns = conns_;
  for (auto& [k, c] : conns) drop(c);
}

uint32_t VsockDevice::allocateHostPort() {
  for (;;) {
    uint32_t p = nextHostPort_++;
    if (nextHostPort_ == 0) nextHostPort_ = 0x80000000u;
    bool used = false;
    for (const auto& [k, c] : conns_) used |= k.first == p;
    if (!used) return p;
  }
}

Task<void> VsockDevice::acceptLoop() {
  auto alive = alive_;
  auto listener = listener_;
  for (;;) {
    auto s = co_await listener->accept();
    if (!*alive || !s.ok()) co_return;
    runtime::spawn(hostHandshake(std::move(*s)));
  }
}

// hostHandshake: "CONNECT <port>\n", one byte at a time (what follows the
// newline is the connection's data).
Task<void> VsockDevice::hostHandshake(std::unique_ptr<runtime::Stream> s) {
  auto alive = alive_;
  std::string line;
  char ch;
  while (line.size() < 24) {
    auto n = co_await s->read(std::span<char>(&ch, 1));
    if (!*alive || !n.ok() || *n == 0) co_return;
    if (ch == '\n') break;
    line += ch;
  }
  uint64_t port = 0;
  bool valid = line.starts_with("CONNECT ") && line.size() > 8 && line.size() <= 18;
  for (size_t i = 8; valid && i < line.size(); ++i) {
    valid = line[i] >= '0' && line[i] <= '9';
    port = port * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  if (!valid || port > 0xffffffffu) {
    HLOG(Warn, "vsock.host.bad_connect").kv("line", line.substr(0, 24));
    s->close();
    co_return;
  }
  auto c = std::make_shared<Conn>();
  c->hostPort = allocateHostPort();
  c->guestPort = static_cast<uint32_t>(port);
  c->state = Conn::State::kRequestSent;
  c->stream = std::move(s);
  conns_.emplace(Key{c->hostPort, c->guestPort}, c);
  send(*c, Op::kRequest);
  c->connectTimer = loop_.addTimer(options_.connectTimeout, [this, alive, c] {
    c->connectTimer = 0;
    if (*alive && !c->dead && c->state == Conn::State::kRequestSent) reset(c, "guest did not answer the REQUEST");
  });
}

Task<void> VsockDevice::dialHost(std::shared_ptr<Conn> c) {
  auto alive = alive_;
  std::string address = "unix://" + options_.uds + "_" + std::to_string(c->hostPort);
  auto s = co_await transport_.connect(address);
  if (!*alive || c->dead) {
    if (s.ok()) (*s)->close();
    co_return;
  }
  if (!s.ok()) {
    HLOG(Debug, "vsock.host.no_listener").kv("conn", c->id()).kv("error", s.status().message());
    co_return reset(c, "nothing listens on the host port");
  }
  c->stream = std::move(*s);
  send(*c, Op::kResponse);
  established(c);
}

Task<void> VsockDevice::hostToGuest(std::shared_ptr<Conn> c) {
  auto alive = alive_;
  std::string buf;
  while (!c->dead && !c->guestShutRcv) {
    uint32_t credit = c->credit();
    if (credit == 0) {
      if (!c->creditRequested) {
        c->creditRequested = true;
        send(*c, Op::kCreditRequest);
      }
      co_await c->creditWake.wait();
      if (!*alive) co_return;
      continue;
    }
    buf.resize(std::min(credit, kMaxPayload));
    auto n = co_await c->stream->read(std::span<char>(buf.data(), buf.size()));
    if (!*alive || c->dead) co_return;
    if (!n.ok()) co_return reset(c, "host stream failed");
    if (*n == 0) {
      c->hostEof = true;
      send(*c, Op::kShutdown, kShutdownSend);
      co_return maybeFinish(c);
    }
    c->txCnt += static_cast<uint32_t>(*n);
    send(*c, Op::kRw, 0, buf.substr(0, *n));
  }
}

Task<void> VsockDevice::guestToHost(std::shared_ptr<Conn> c) {
  auto alive = alive_;
  while (!c->dead) {
    if (c->toHost.empty()) {
      if (c->guestShutSend && !c->hostWriteShut) {
        c->hostWriteShut = true;
        (void)c->stream->shutdownWrite();
        maybeFinish(c);
        continue;
      }
      co_await c->writerWake.wait();
      if (!*alive) co_return;
      continue;
    }
    std::string data = std::move(c->toHost.front());
    c->toHost.pop_front();
    Status st = co_await c->stream->write(data);
    if (!*alive || c->dead) co_return;
    if (!st.ok()) co_return reset(c, "host stream refused data");
    c->fwdCnt += static_cast<uint32_t>(data.size());
    // Report consumption before the guest can run out of credit.
    if (c->fwdCnt - c->reportedFwdCnt >= options_.bufAlloc / 4) send(*c, Op::kCreditUpdate);
  }
}

}  // namespace hcsshim::vsock
