#include "sim/world.h"

#include <cstdio>
#include <cstdlib>

#include "sim/network.h"
#include "sim/node.h"
#include "sim/programs.h"
#include "src/common/log.h"

namespace hcsshim::sim {

World::World(uint64_t seed, WorldOptions options)
    : seed_(seed),
      options_(options),
      random_(seed),
      network_(std::make_unique<SimNetwork>(*this)),
      programs_(std::make_unique<SimProcessRunner>(*this)) {
  // Log lines carry virtual time, so logs of a replayed run match too.
  log::setTimeSource([this] { return options_.wallEpochNanos + now_.count(); });
}

World::~World() {
  log::setTimeSource(nullptr);
  // Drop pending callbacks (they may own streams) before the nodes go.
  queue_.clear();
}

Node& World::addNode(const std::string& name, std::optional<runtime::PeerCredentials> creds) {
  runtime::PeerCredentials c = creds.value_or(runtime::PeerCredentials{nextPid_, 0, 0});
  if (!creds) ++nextPid_;
  std::string unique = name;
  for (auto& n : nodes_) {
    if (n->name() == unique) {
      unique = name + "#" + std::to_string(c.pid);
      break;
    }
  }
  nodes_.push_back(std::make_unique<Node>(*this, unique, c));
  return *nodes_.back();
}

uint64_t World::schedule(Duration after, std::function<void()> fn) {
  uint64_t id = nextSeq_++;
  TimePoint at = now_ + (after.count() > 0 ? after : Duration(0));
  queue_.emplace(std::make_pair(at, id), std::move(fn));
  scheduled_.emplace(id, at);
  return id;
}

void World::cancel(uint64_t id) {
  auto it = scheduled_.find(id);
  if (it == scheduled_.end()) return;
  queue_.erase(std::make_pair(it->second, id));
  scheduled_.erase(it);
}

bool World::runUntil(const std::function<bool()>& pred) {
  stopRequested_ = false;
  uint64_t budget = options_.maxEvents;
  while (!pred()) {
    if (stopRequested_ || queue_.empty()) return pred();
    if (budget-- == 0) {
      trace("world", "event budget exhausted");
      return pred();
    }
    auto it = queue_.begin();
    now_ = it->first.first;
    scheduled_.erase(it->first.second);
    auto fn = std::move(it->second);
    queue_.erase(it);
    ++eventsRun_;
    fn();
  }
  return true;
}

void World::runFor(Duration d) {
  TimePoint end = now_ + d;
  // An event at the end keeps time from stopping short when nothing else is due.
  schedule(d, [] {});
  runUntil([&] { return queue_.empty() || queue_.begin()->first.first > end; });
  if (now_ < end) now_ = end;
}

void World::trace(std::string_view who, std::string_view what) {
  char ts[32];
  std::snprintf(ts, sizeof ts, "%6lld.%09lld ", static_cast<long long>(now_.count() / 1000000000),
                static_cast<long long>(now_.count() % 1000000000));
  std::string line(ts);
  line.append(who);
  line.push_back(' ');
  if (traceAliasOf_.empty()) {
    line.append(what);
  } else {
    for (size_t at = 0; at < what.size();) {
      size_t hit = what.find(traceAliasOf_, at);
      line.append(what.substr(at, hit == std::string_view::npos ? std::string_view::npos : hit - at));
      if (hit == std::string_view::npos) break;
      line.append(traceAlias_);
      at = hit + traceAliasOf_.size();
    }
  }
  trace_.push_back(std::move(line));
}

std::string World::traceText() const {
  std::string out;
  for (auto& l : trace_) {
    out += l;
    out += '\n';
  }
  return out;
}

uint64_t fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t seedFromEnv(uint64_t fallback) {
  const char* v = std::getenv("HCS_SIM_SEED");
  if (!v || !*v) return fallback;
  char* end = nullptr;
  unsigned long long s = std::strtoull(v, &end, 0);
  return (end && *end == 0) ? s : fallback;
}

std::string World::replayHint(std::string_view testFilter) const {
  return "replay: bazel test --test_env=HCS_SIM_SEED=" + std::to_string(seed_) +
         " --test_filter=" + std::string(testFilter) + " <target>";
}

Node::Node(World& world, std::string name, runtime::PeerCredentials creds)
    : world_(world),
      name_(std::move(name)),
      creds_(creds),
      loop_(world),
      transport_(world.network().transportFor(*this)),
      random_(world.random().fork()) {}

Node::~Node() = default;

runtime::ProcessRunner& Node::processes() {
  if (!processes_) processes_ = world_.programs().runnerFor(*this);
  return *processes_;
}

}  // namespace hcsshim::sim
