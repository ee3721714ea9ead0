// windows_runtime.h: the Runtime seams on Windows - the loop on standard
// threads (src/runtime/threaded_loop.h), sockets through winsock
// (winsock_transport.h: loopback TCP and Hyper-V sockets), randomness from
// the system (rand_s seeds the portable PRNG).
//
//   auto rt = WindowsRuntime::create("uvmboot");
//   platforms::windows::ComputeCoreHcs hcs((*rt)->loop());
//
// Processes: spawn is Unimplemented - nothing that runs on Windows today
// (uvmboot, hcsdiag, hnsdiag, the conformance suites) starts host
// processes; the shim will (CreateProcessW) when it is built for Windows.
#pragma once

#include <memory>
#include <string>

#include "platforms/windows/winsock_transport.h"
#include "src/runtime/runtime.h"
#include "src/runtime/threaded_loop.h"

namespace hcsshim::platforms::windows {

class NoProcesses final : public runtime::ProcessRunner {
 public:
  StatusOr<std::unique_ptr<runtime::Process>> spawn(const runtime::ProcessSpec& spec) override;
};

class WindowsRuntime final : public runtime::Runtime {
 public:
  static StatusOr<std::unique_ptr<WindowsRuntime>> create(std::string name);

  runtime::ThreadedEventLoop& loop() override { return loop_; }
  runtime::Transport& transport() override { return *transport_; }
  runtime::ProcessRunner& processes() override { return processes_; }
  runtime::Random& random() override { return random_; }
  runtime::PeerCredentials credentials() const override;
  std::string name() const override { return name_; }

 private:
  WindowsRuntime(std::string name, uint64_t seed) : name_(std::move(name)), random_(seed) {}
  std::string name_;
  runtime::ThreadedEventLoop loop_;
  std::unique_ptr<WinsockTransport> transport_;
  NoProcesses processes_;
  runtime::Random random_;
};

}  // namespace hcsshim::platforms::windows
