// hcs_fake_daemon.h: runs the hcs_fake daemon binary for a test (from the
// test's runfiles; the target must list "//hcs_fake" in data).
//
//   auto d = HcsFakeDaemon::start(rt, dir);         // waits until it accepts
//   auto api = co_await platforms::DaemonHcs::connect(rt, d->address());
//   d->stop();                                      // SIGTERM; returns its exit code
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/runtime.h"

namespace hcsshim::functional {

class HcsFakeDaemon {
 public:
  // start launches hcs_fake with its socket in dir and waits (up to 10 s)
  // until a client can connect.
  // extraArgs go to the daemon (e.g. -quiet, --gcs-debug).
  static StatusOr<std::unique_ptr<HcsFakeDaemon>> start(runtime::Runtime& rt, const std::string& dir,
                                                        std::vector<std::string> extraArgs = {});
  ~HcsFakeDaemon();

  const std::string& address() const { return address_; }
  bool running() const;
  int pid() const;
  // stop sends SIGTERM and waits; returns the daemon's exit code.
  int stop();

  // runfile resolves a path in the test's runfiles ("hcs_fake/hcs_fake").
  static std::string runfile(const std::string& relative);
  // backend: the VM backend the daemon runs: "qemu" when HCS_BACKEND=qemu
  // (tools/conformance/run --backend=qemu; the daemon reads the same
  // variable), else "sim".
  static std::string backend();
  // bootFiles: the LinuxBootFiles a test's VMs use - under qemu the guest
  // image from the runfiles (the target lists //tools/guest_image:boot_files
  // in data), under sim placeholders written to <dir>/boot (not booted).
  static std::string bootFiles(const std::string& dir);

 private:
  HcsFakeDaemon(runtime::Runtime& rt, std::string address, std::unique_ptr<runtime::Process> p)
      : rt_(rt), address_(std::move(address)), process_(std::move(p)) {}
  runtime::Runtime& rt_;
  std::string address_;
  std::unique_ptr<runtime::Process> process_;
};

}  // namespace hcsshim::functional
