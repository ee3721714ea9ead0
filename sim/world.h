// world.h: the deterministic simulation world.
//
// A World runs any number of components ("nodes") in one thread on virtual
// time. Every seam a component uses - event loop, clock, timers, randomness,
// byte streams, processes - is simulated, and every choice the simulation
// makes (network latency, how a write is split, which connection's bytes
// arrive first) comes from one seeded PRNG. The same seed therefore gives a
// byte-identical event trace, and a failing run is replayed by its seed:
//
//   sim::World world(seed);
//   sim::Node& server = world.addNode("server");
//   sim::Node& client = world.addNode("client");
//   ... start components on server / client (they take a runtime::Runtime&) ...
//   world.runUntil([&] { return done; });
//   EXPECT_EQ(world.traceText(), otherRunWithSameSeed.traceText());
//
// Faults are injected through a hook that sees every write (drop, delay,
// split, reset the connection after N bytes) or directly (resetConnection).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "src/runtime/runtime.h"

namespace hcsshim::sim {

using runtime::Duration;
using runtime::TimePoint;

class Node;
class SimNetwork;
class SimProcessRunner;

// WorldOptions: the shape of the simulated network.
struct WorldOptions {
  Duration minLatency = std::chrono::microseconds(5);
  Duration maxLatency = std::chrono::microseconds(200);
  // splitProbability: chance that a write arrives in several pieces.
  double splitProbability = 0.3;
  // wallEpochNanos: the wall clock at virtual time zero (2026-01-01T00:00:00Z).
  int64_t wallEpochNanos = 1767225600LL * 1000000000LL;
  // maxEvents bounds runUntil so a livelocked simulation fails instead of spinning.
  uint64_t maxEvents = 50'000'000;
};

// WriteInfo describes one write on a simulated stream (for fault hooks).
struct WriteInfo {
  uint64_t connId;
  std::string from;  // node name of the writer
  std::string to;    // node name of the reader
  size_t size;
  uint64_t index;    // 0-based count of writes in this direction of this connection
  std::string address;  // what the client connected to ("" for stream pairs made without a listener)
  bool fromClient = true;  // written by the side that connected
};

// WriteFault: what the network does with a write.
struct WriteFault {
  enum class Kind { kNone, kDrop, kDelay, kSplit, kResetAfter };
  Kind kind = Kind::kNone;
  Duration delay{};  // kDelay: extra latency
  size_t bytes = 0;  // kSplit: first piece size; kResetAfter: bytes delivered before the reset

  static WriteFault none() { return {}; }
  static WriteFault drop() { return {Kind::kDrop}; }
  static WriteFault delayBy(Duration d) { return {Kind::kDelay, d}; }
  static WriteFault splitAt(size_t n) { return {Kind::kSplit, {}, n}; }
  static WriteFault resetAfter(size_t n) { return {Kind::kResetAfter, {}, n}; }
};

using FaultHook = std::function<WriteFault(const WriteInfo&)>;

class World {
 public:
  explicit World(uint64_t seed, WorldOptions options = {});
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  uint64_t seed() const { return seed_; }
  const WorldOptions& options() const { return options_; }
  TimePoint now() const { return now_; }
  runtime::Random& random() { return random_; }

  // addNode creates a component's runtime. Credentials default to uid/gid 0
  // and a unique simulated pid.
  Node& addNode(const std::string& name, std::optional<runtime::PeerCredentials> creds = std::nullopt);

  // schedule runs fn at now()+after; events at the same time run in the order
  // they were scheduled. Returns an id for cancel().
  uint64_t schedule(Duration after, std::function<void()> fn);
  void cancel(uint64_t id);

  // runUntil dispatches events in time order until pred() holds, stop() is
  // called, or nothing is left to run. Returns pred()'s final value.
  bool runUntil(const std::function<bool()>& pred);
  // runFor advances virtual time by d (running everything due).
  void runFor(Duration d);
  void stop() { stopRequested_ = true; }
  size_t pendingEvents() const { return queue_.size(); }
  uint64_t eventsRun() const { return eventsRun_; }

  // trace appends "<virtual time> <who> <what>" to the run's trace.
  void trace(std::string_view who, std::string_view what);
  const std::vector<std::string>& traceLines() const { return trace_; }
  std::string traceText() const;
  // setTraceAlias: `text` (a scratch directory, say) is written as `alias`
  // in the trace, so that traces of runs in different places compare equal.
  void setTraceAlias(std::string text, std::string alias) {
    traceAliasOf_ = std::move(text);
    traceAlias_ = std::move(alias);
  }
  // replayHint is the line a failing test prints to reproduce the run.
  std::string replayHint(std::string_view testFilter) const;

  void setFaultHook(FaultHook hook) { faultHook_ = std::move(hook); }
  const FaultHook& faultHook() const { return faultHook_; }

  SimNetwork& network() { return *network_; }
  SimProcessRunner& programs() { return *programs_; }

 private:
  uint64_t seed_;
  WorldOptions options_;
  runtime::Random random_;
  TimePoint now_{0};
  uint64_t nextSeq_ = 1;
  bool stopRequested_ = false;
  uint64_t eventsRun_ = 0;
  std::map<std::pair<TimePoint, uint64_t>, std::function<void()>> queue_;
  std::unordered_map<uint64_t, TimePoint> scheduled_;
  std::vector<std::string> trace_;
  std::string traceAliasOf_, traceAlias_;
  FaultHook faultHook_;
  std::vector<std::unique_ptr<Node>> nodes_;
  int32_t nextPid_ = 1000;
  std::unique_ptr<SimNetwork> network_;
  std::unique_ptr<SimProcessRunner> programs_;
};

// fnv1a: the 64-bit FNV-1a hash of data (trace digests).
uint64_t fnv1a(std::string_view data);

// seedFromEnv returns $HCS_SIM_SEED if set (to replay a failing run), else fallback.
uint64_t seedFromEnv(uint64_t fallback);

}  // namespace hcsshim::sim
