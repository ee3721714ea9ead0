#include "functional/harness/hcs_fake_daemon.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "src/runtime/event_loop.h"

namespace hcsshim::functional {

std::string HcsFakeDaemon::runfile(const std::string& relative) {
  const char* root = std::getenv("TEST_SRCDIR");
  if (!root) root = std::getenv("RUNFILES_DIR");
  if (!root) {
    // A binary run directly: <binary>.runfiles next to it.
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec && std::filesystem::exists(self.string() + ".runfiles")) {
      return self.string() + ".runfiles/hcsshim_cpp/" + relative;
    }
  }
  return std::string(root ? root : ".") + "/hcsshim_cpp/" + relative;
}

std::string HcsFakeDaemon::backend() {
  const char* b = std::getenv("HCS_BACKEND");
  return b && std::string(b) == "qemu" ? "qemu" : "sim";
}

std::string HcsFakeDaemon::bootFiles(const std::string& dir) {
  if (backend() == "qemu") return std::filesystem::path(runfile("tools/guest_image/LinuxBootFiles/vmlinux")).parent_path();
  std::string boot = dir + "/boot";
  std::filesystem::create_directories(boot);
  std::ofstream(boot + "/vmlinux") << "sim backend: the guest is the gcs binary\n";
  std::ofstream(boot + "/initrd.img") << "sim backend: the guest is the gcs binary\n";
  return boot;
}

StatusOr<std::unique_ptr<HcsFakeDaemon>> HcsFakeDaemon::start(runtime::Runtime& rt, const std::string& dir,
                                                              std::vector<std::string> extraArgs) {
  std::string address = "unix://" + dir + "/hcs.sock";
  std::string bin = runfile("hcs_fake/hcs_fake");
  runtime::ProcessSpec spec{.path = bin, .args = {bin, "--address", address}};
  spec.args.insert(spec.args.end(), extraArgs.begin(), extraArgs.end());
  HCS_ASSIGN_OR_RETURN(auto p, rt.processes().spawn(spec));
  std::unique_ptr<HcsFakeDaemon> d(new HcsFakeDaemon(rt, address, std::move(p)));
  Status last;
  for (int i = 0; i < 500; ++i) {
    if (!d->running()) return UnavailableError("hcs_fake exited during start");
    auto probe = runtime::blockOn(rt.loop(), rt.transport().connect(address));
    if (probe.ok()) return d;
    last = probe.status();
    bool tick = false;
    rt.loop().addTimer(std::chrono::milliseconds(20), [&] { tick = true; });
    rt.loop().runUntil([&] { return tick; });
  }
  return DeadlineExceededError("hcs_fake did not accept on " + address + ": " + last.toString());
}

HcsFakeDaemon::~HcsFakeDaemon() {
  if (running()) stop();
}

int HcsFakeDaemon::pid() const { return process_ ? process_->pid() : 0; }

bool HcsFakeDaemon::running() const { return process_ && !process_->exitStatus(); }

int HcsFakeDaemon::stop() {
  if (!process_) return -1;
  if (!process_->exitStatus()) (void)process_->signal(SIGTERM);
  return runtime::blockOn(rt_.loop(), process_->wait()).exitCode;
}

}  // namespace hcsshim::functional
