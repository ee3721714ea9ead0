// windows_runtime.h: the Runtime seams on Windows - the loop on standard
// threads (src/runtime/threaded_loop.h), sockets through winsock
// (winsock_transport.h: loopback TCP and Hyper-V sockets), randomness from
// the system (rand_s seeds the portable PRNG), processes through
// CreateProcessW (win_process.h).
//
//   auto rt = WindowsRuntime::create("uvmboot");
//   platforms::windows::ComputeCoreHcs hcs((*rt)->loop());
#pragma once

#include <memory>
#include <string>

#include "platforms/windows/win_process.h"
#include "platforms/windows/winsock_transport.h"
#include "src/runtime/runtime.h"
#include "src/runtime/threaded_loop.h"

namespace hcsshim::platforms::windows {

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
  WindowsRuntime(std::string name, uint64_t seed) : name_(std::move(name)), processes_(loop_), random_(seed) {}
  std::string name_;
  runtime::ThreadedEventLoop loop_;
  std::unique_ptr<WinsockTransport> transport_;
  WinProcessRunner processes_;
  runtime::Random random_;
};

}  // namespace hcsshim::platforms::windows
