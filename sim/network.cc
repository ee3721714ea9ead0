#include "sim/network.h"

#include <algorithm>
#include <cstdio>

#include "sim/node.h"

namespace hcsshim::sim {

using runtime::PeerCredentials;
using runtime::Stream;
using runtime::Task;

namespace {

std::string normalize(std::string_view address) {
  if (address.starts_with("unix://")) address.remove_prefix(7);
  return std::string(address);
}

}  // namespace

// Pipe: one direction of a connection.
struct Pipe {
  std::string buf;
  size_t head = 0;          // bytes of buf already read
  bool eof = false;         // the writer's shutdown has arrived
  bool reset = false;
  bool resetPending = false;  // a reset is on its way: later bytes never arrive
  bool readerGone = false;  // the reading side closed its end
  bool writerDone = false;  // shutdown or close requested by the writer
  TimePoint lastArrival{0};
  uint64_t writes = 0;
  runtime::WaitList readers;

  size_t available() const { return buf.size() - head; }
};

struct SimNetwork::Conn {
  uint64_t id = 0;
  std::string address;
  Node* node[2] = {nullptr, nullptr};  // 0: connecting side, 1: accepting side
  Pipe pipe[2];                        // pipe[i] carries bytes written by side i
  bool closed[2] = {false, false};
  bool writeShut[2] = {false, false};
};

struct SimNetwork::ListenerState {
  std::string address;
  Node* node = nullptr;
  std::deque<std::unique_ptr<Stream>> pending;
  runtime::WaitList acceptors;
  bool closed = false;
};

namespace {

using Conn = SimNetwork::Conn;

void resetConn(World& world, Conn& c, std::string_view why) {
  if (c.pipe[0].reset && c.pipe[1].reset) return;
  world.trace("net", "conn#" + std::to_string(c.id) + " reset (" + std::string(why) + ")");
  for (auto& p : c.pipe) {
    p.reset = true;
    p.buf.clear();
    p.head = 0;
  }
  for (auto& p : c.pipe) p.readers.notifyAll();
}

// scheduleArrival delivers `piece` (or, if empty and eof, the EOF) in order.
void scheduleArrival(World& world, const std::shared_ptr<Conn>& c, int side, std::string piece, Duration extra,
                     bool eofMarker) {
  Pipe& p = c->pipe[side];
  Duration latency(static_cast<int64_t>(
      world.random().between(world.options().minLatency.count(), world.options().maxLatency.count())));
  TimePoint arrival = std::max(world.now() + latency + extra, p.lastArrival);
  p.lastArrival = arrival;
  world.schedule(arrival - world.now(), [&world, c, side, piece = std::move(piece), eofMarker] {
    Pipe& p = c->pipe[side];
    if (p.reset || p.readerGone) return;
    char line[96];
    if (eofMarker) {
      p.eof = true;
      std::snprintf(line, sizeof line, "conn#%llu eof %s->%s", static_cast<unsigned long long>(c->id),
                    side == 0 ? "c" : "s", side == 0 ? "s" : "c");
    } else {
      if (p.head == p.buf.size()) {
        p.buf.clear();
        p.head = 0;
      }
      p.buf.append(piece);
      std::snprintf(line, sizeof line, "conn#%llu deliver %s->%s %zuB %016llx", static_cast<unsigned long long>(c->id),
                    side == 0 ? "c" : "s", side == 0 ? "s" : "c", piece.size(),
                    static_cast<unsigned long long>(fnv1a(piece)));
    }
    world.trace("net", line);
    p.readers.notifyAll();
  });
}

class SimStream final : public Stream {
 public:
  SimStream(std::shared_ptr<Conn> c, int side, World& world)
      : c_(std::move(c)), side_(side), world_(world) {
    name_ = "sim:" + c_->address + "#" + std::to_string(c_->id) + (side == 0 ? "/c" : "/s");
  }
  ~SimStream() override { close(); }

  Task<StatusOr<size_t>> read(std::span<char> buf) override { return readImpl(c_, side_, buf); }

  Task<Status> write(std::string_view data) override {
    // Writes complete at once (unbounded buffers); the work is synchronous so
    // the coroutine never suspends.
    co_return writeNow(data);
  }

  Status shutdownWrite() override {
    if (c_->closed[side_]) return CancelledError("stream closed");
    if (c_->writeShut[side_]) return OkStatus();
    c_->writeShut[side_] = true;
    Pipe& out = c_->pipe[side_];
    if (!out.writerDone) {
      out.writerDone = true;
      scheduleArrival(world_, c_, side_, {}, Duration(0), true);
    }
    return OkStatus();
  }

  void close() override {
    if (c_->closed[side_]) return;
    c_->closed[side_] = true;
    Pipe& out = c_->pipe[side_];
    if (!out.writerDone) {
      out.writerDone = true;
      scheduleArrival(world_, c_, side_, {}, Duration(0), true);
    }
    Pipe& in = c_->pipe[1 - side_];
    in.readerGone = true;
    in.buf.clear();
    in.head = 0;
    in.readers.notifyAll();  // our own pending read sees the close
  }

  StatusOr<PeerCredentials> peerCredentials() const override { return c_->node[1 - side_]->credentials(); }
  std::string describe() const override { return name_; }

 private:
  static Task<StatusOr<size_t>> readImpl(std::shared_ptr<Conn> c, int side, std::span<char> buf) {
    for (;;) {
      if (c->closed[side]) co_return CancelledError("stream closed");
      Pipe& in = c->pipe[1 - side];
      if (in.available() > 0) {
        size_t n = std::min(buf.size(), in.available());
        std::copy_n(in.buf.data() + in.head, n, buf.data());
        in.head += n;
        co_return n;
      }
      if (in.reset) co_return UnavailableError("connection reset by peer");
      if (in.eof || buf.empty()) co_return size_t{0};
      co_await in.readers.wait();
    }
  }

  Status writeNow(std::string_view data) {
    if (c_->closed[side_]) return CancelledError("stream closed");
    if (c_->writeShut[side_]) return FailedPreconditionError("write after shutdownWrite");
    Pipe& out = c_->pipe[side_];
    if (out.reset) return UnavailableError("connection reset by peer");
    if (out.readerGone) return UnavailableError("broken pipe: peer closed the stream");
    if (data.empty()) return OkStatus();
    if (out.resetPending) {
      // The writer does not know yet; the bytes are lost with the connection.
      world_.trace(c_->node[side_]->name(), "conn#" + std::to_string(c_->id) + " write " + std::to_string(data.size()) +
                                                "B lost (reset on its way)");
      return OkStatus();
    }

    WriteInfo info{c_->id, c_->node[side_]->name(), c_->node[1 - side_]->name(), data.size(), out.writes++, c_->address,
                   side_ == 0};
    WriteFault fault = world_.faultHook() ? world_.faultHook()(info) : WriteFault::none();
    char line[128];
    std::snprintf(line, sizeof line, "conn#%llu write %s->%s %zuB", static_cast<unsigned long long>(c_->id),
                  side_ == 0 ? "c" : "s", side_ == 0 ? "s" : "c", data.size());
    std::string traceLine = line;

    std::vector<std::string> pieces;
    Duration extra(0);
    bool resetAfter = false;
    switch (fault.kind) {
      case WriteFault::Kind::kDrop:
        world_.trace(info.from, traceLine + " fault=drop");
        return OkStatus();
      case WriteFault::Kind::kDelay:
        extra = fault.delay;
        traceLine += " fault=delay";
        pieces.emplace_back(data);
        break;
      case WriteFault::Kind::kSplit: {
        size_t at = std::min(fault.bytes, data.size());
        pieces.emplace_back(data.substr(0, at));
        if (at < data.size()) pieces.emplace_back(data.substr(at));
        traceLine += " fault=split";
        break;
      }
      case WriteFault::Kind::kResetAfter: {
        size_t at = std::min(fault.bytes, data.size());
        if (at > 0) pieces.emplace_back(data.substr(0, at));
        resetAfter = true;
        out.resetPending = true;
        traceLine += " fault=reset_after_" + std::to_string(at);
        break;
      }
      case WriteFault::Kind::kNone:
        if (data.size() > 1 && world_.random().chance(world_.options().splitProbability)) {
          size_t n = static_cast<size_t>(world_.random().between(2, std::min<uint64_t>(4, data.size())));
          size_t start = 0;
          for (size_t i = 1; i < n; ++i) {
            size_t remaining = data.size() - start - (n - i);
            size_t len = 1 + static_cast<size_t>(world_.random().uniform(remaining));
            pieces.emplace_back(data.substr(start, len));
            start += len;
          }
          pieces.emplace_back(data.substr(start));
          traceLine += " pieces=" + std::to_string(n);
        } else {
          pieces.emplace_back(data);
        }
        break;
    }
    world_.trace(info.from, traceLine);
    for (auto& piece : pieces) scheduleArrival(world_, c_, side_, std::move(piece), extra, false);
    if (resetAfter) {
      TimePoint at = std::max(out.lastArrival, world_.now());
      std::shared_ptr<Conn> c = c_;
      World* w = &world_;
      world_.schedule(at - world_.now() + Duration(1), [w, c] { resetConn(*w, *c, "fault"); });
    }
    return OkStatus();
  }

  std::shared_ptr<Conn> c_;
  int side_;
  World& world_;
  std::string name_;
};

class SimListener final : public runtime::Listener {
 public:
  SimListener(SimNetwork& net, std::shared_ptr<SimNetwork::ListenerState> s) : net_(net), s_(std::move(s)) {}
  ~SimListener() override { close(); }

  Task<StatusOr<std::unique_ptr<Stream>>> accept() override { return acceptImpl(s_); }

  void close() override {
    if (s_->closed) return;
    s_->closed = true;
    auto it = net_.listeners().find(s_->address);
    if (it != net_.listeners().end() && it->second == s_) net_.listeners().erase(it);
    s_->pending.clear();  // unaccepted connections see EOF
    s_->acceptors.notifyAll();
  }
  std::string address() const override { return "unix://" + s_->address; }

 private:
  static Task<StatusOr<std::unique_ptr<Stream>>> acceptImpl(std::shared_ptr<SimNetwork::ListenerState> s) {
    for (;;) {
      if (s->closed) co_return CancelledError("listener closed");
      if (!s->pending.empty()) {
        auto st = std::move(s->pending.front());
        s->pending.pop_front();
        co_return st;
      }
      co_await s->acceptors.wait();
    }
  }

  SimNetwork& net_;
  std::shared_ptr<SimNetwork::ListenerState> s_;
};

class SimTransport final : public runtime::Transport {
 public:
  SimTransport(SimNetwork& net, Node& node) : net_(net), node_(node) {}

  StatusOr<std::unique_ptr<runtime::Listener>> listen(std::string_view address) override {
    std::string a = normalize(address);
    if (a.empty()) return InvalidArgumentError("empty address");
    if (net_.listeners().count(a)) return AlreadyExistsError("address in use: " + a);
    auto s = std::make_shared<SimNetwork::ListenerState>();
    s->address = a;
    s->node = &node_;
    net_.listeners()[a] = s;
    node_.trace("listen " + a);
    return std::unique_ptr<runtime::Listener>(new SimListener(net_, s));
  }

  Task<StatusOr<std::unique_ptr<Stream>>> connect(std::string_view address) override {
    std::string a = normalize(address);
    World& w = net_.world();
    Duration latency(
        static_cast<int64_t>(w.random().between(w.options().minLatency.count(), w.options().maxLatency.count())));
    co_await runtime::sleep(node_.loop(), latency);
    auto it = net_.listeners().find(a);
    if (it == net_.listeners().end() || it->second->closed) {
      node_.trace("connect " + a + " refused");
      co_return NotFoundError("connect " + a + ": no listener");
    }
    auto ls = it->second;
    auto c = net_.newConn(node_, *ls->node);
    c->address = a;
    node_.trace("connect " + a + " conn#" + std::to_string(c->id));
    ls->pending.push_back(std::make_unique<SimStream>(c, 1, w));
    ls->acceptors.notifyAll();
    co_return std::unique_ptr<Stream>(std::make_unique<SimStream>(c, 0, w));
  }

 private:
  SimNetwork& net_;
  Node& node_;
};

}  // namespace

std::unique_ptr<runtime::Transport> SimNetwork::transportFor(Node& node) {
  return std::make_unique<SimTransport>(*this, node);
}

std::shared_ptr<SimNetwork::Conn> SimNetwork::newConn(Node& client, Node& server) {
  auto c = std::make_shared<Conn>();
  c->id = nextConnId_++;
  c->node[0] = &client;
  c->node[1] = &server;
  conns_[c->id] = c;
  return c;
}

bool SimNetwork::resetConnection(uint64_t connId) {
  auto it = conns_.find(connId);
  if (it == conns_.end()) return false;
  auto c = it->second.lock();
  if (!c) return false;
  resetConn(world_, *c, "injected");
  return true;
}

std::pair<std::unique_ptr<Stream>, std::unique_ptr<Stream>> newStreamPair(SimNetwork& net, Node& a, Node& b) {
  auto c = net.newConn(a, b);
  c->address = "pipe:" + a.name() + "<->" + b.name();
  return {std::make_unique<SimStream>(c, 0, net.world()), std::make_unique<SimStream>(c, 1, net.world())};
}

}  // namespace hcsshim::sim
