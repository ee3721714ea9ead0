// runtime.h: the bundle of seams a component is given.
//
// A component takes a Runtime& and reaches time, timers, randomness, sockets
// and processes only through it. RealRuntime (real_runtime.h) binds them to
// the OS; sim::Node binds them to a deterministic simulated world.
#pragma once

#include <string>

#include "src/runtime/event_loop.h"
#include "src/runtime/process.h"
#include "src/runtime/random.h"
#include "src/runtime/transport.h"

namespace hcsshim::runtime {

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual EventLoop& loop() = 0;
  virtual Transport& transport() = 0;
  virtual ProcessRunner& processes() = 0;
  virtual Random& random() = 0;
  // credentials are this component's own uid/gid/pid (for peer checks).
  virtual PeerCredentials credentials() const = 0;
  // name identifies the component in traces and logs.
  virtual std::string name() const = 0;
};

}  // namespace hcsshim::runtime
