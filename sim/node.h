// node.h: one simulated component's runtime (loop, clock, transport,
// processes, randomness), all driven by its World.
#pragma once

#include <memory>
#include <string>

#include "sim/world.h"

namespace hcsshim::sim {

class SimClock final : public runtime::Clock {
 public:
  explicit SimClock(const World& w) : world_(w) {}
  TimePoint now() const override { return world_.now(); }
  int64_t wallNanos() const override { return world_.options().wallEpochNanos + world_.now().count(); }

 private:
  const World& world_;
};

// SimEventLoop: the EventLoop seam on the world's virtual time. All nodes'
// loops share the world's single queue, so runUntil on any of them drives the
// whole simulation.
class SimEventLoop final : public runtime::EventLoop {
 public:
  explicit SimEventLoop(World& w) : world_(w), clock_(w) {}
  const runtime::Clock& clock() const override { return clock_; }
  void post(std::function<void()> fn) override { world_.schedule(Duration(0), std::move(fn)); }
  runtime::TimerId addTimer(Duration after, std::function<void()> fn) override {
    return world_.schedule(after, std::move(fn));
  }
  void cancelTimer(runtime::TimerId id) override { world_.cancel(id); }
  bool runUntil(const std::function<bool()>& pred) override { return world_.runUntil(pred); }
  void stop() override { world_.stop(); }

 private:
  World& world_;
  SimClock clock_;
};

class Node final : public runtime::Runtime {
 public:
  Node(World& world, std::string name, runtime::PeerCredentials creds);
  ~Node() override;

  runtime::EventLoop& loop() override { return loop_; }
  runtime::Transport& transport() override { return *transport_; }
  runtime::ProcessRunner& processes() override;
  runtime::Random& random() override { return random_; }
  runtime::PeerCredentials credentials() const override { return creds_; }
  std::string name() const override { return name_; }

  World& world() { return world_; }
  // trace records an event of this node in the world's trace.
  void trace(std::string_view what) { world_.trace(name_, what); }

 private:
  World& world_;
  std::string name_;
  runtime::PeerCredentials creds_;
  SimEventLoop loop_;
  std::unique_ptr<runtime::Transport> transport_;
  std::unique_ptr<runtime::ProcessRunner> processes_;
  runtime::Random random_;
};

}  // namespace hcsshim::sim
