// network.h: simulated byte streams between nodes.
//
// Addresses are plain strings (any "unix://..." or "/path" a component would
// use for real). Each direction of a connection is an ordered byte pipe:
// every write is delivered after a seeded latency, possibly in several pieces,
// never reordered within the direction; different connections interleave as
// the seed decides. Writes never block (unbounded buffers).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "sim/world.h"
#include "src/runtime/transport.h"

namespace hcsshim::sim {

class Node;

class SimNetwork {
 public:
  explicit SimNetwork(World& w) : world_(w) {}

  // transportFor returns the Transport seam for a node.
  std::unique_ptr<runtime::Transport> transportFor(Node& node);

  // resetConnection breaks connection `connId` in both directions at once
  // (pending and later reads and writes fail with Unavailable "connection reset").
  bool resetConnection(uint64_t connId);
  // connectionCount counts connections ever made.
  uint64_t connectionCount() const { return nextConnId_ - 1; }

  // Internal: used by the simulated transport.
  struct Conn;
  struct ListenerState;
  World& world() { return world_; }
  std::map<std::string, std::shared_ptr<ListenerState>>& listeners() { return listeners_; }
  std::shared_ptr<Conn> newConn(Node& client, Node& server);

 private:
  World& world_;
  uint64_t nextConnId_ = 1;
  std::map<std::string, std::shared_ptr<ListenerState>> listeners_;
  std::map<uint64_t, std::weak_ptr<Conn>> conns_;
};

// newStreamPair makes a connected pair of simulated streams between two
// nodes without a listener (used for simulated process stdio).
std::pair<std::unique_ptr<runtime::Stream>, std::unique_ptr<runtime::Stream>> newStreamPair(SimNetwork& net, Node& a,
                                                                                            Node& b);

}  // namespace hcsshim::sim
