// real_runtime.h: the Runtime bound to the operating system (epoll loop, unix
// sockets, fork/exec, kernel-seeded randomness). One per daemon thread.
//
//   auto rt = RealRuntime::create("hcs_fake");
//   blockOn((*rt)->loop(), serve(**rt));
#pragma once

#include <memory>
#include <string>

#include "src/runtime/epoll_loop.h"
#include "src/runtime/posix_process.h"
#include "src/runtime/runtime.h"
#include "src/runtime/unix_transport.h"

namespace hcsshim::runtime {

class RealRuntime final : public Runtime {
 public:
  static StatusOr<std::unique_ptr<RealRuntime>> create(std::string name);

  EventLoop& loop() override { return *loop_; }
  EpollEventLoop& epoll() { return *loop_; }
  Transport& transport() override { return *transport_; }
  ProcessRunner& processes() override { return *processes_; }
  PosixProcessRunner& posixProcesses() { return *processes_; }
  Random& random() override { return random_; }
  PeerCredentials credentials() const override;
  std::string name() const override { return name_; }

 private:
  RealRuntime(std::string name, std::unique_ptr<EpollEventLoop> loop);
  std::string name_;
  std::unique_ptr<EpollEventLoop> loop_;
  std::unique_ptr<UnixTransport> transport_;
  std::unique_ptr<PosixProcessRunner> processes_;
  Random random_;
};

}  // namespace hcsshim::runtime
