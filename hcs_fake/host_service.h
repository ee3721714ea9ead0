// host_service.h: the fake HCS as a host service - what a user runs so that
// containerd's shims find an HCS, as the real one is always there on Windows.
//
//   hcs_fake --detach [daemon flags]   start it in the background at the
//                                      address (default: the shim's default),
//                                      wait until it serves, print where
//   hcs_fake --stop [--address A]      SIGTERM it (it stops every VM), wait
//   hcs_fake --status [--address A]    say whether it runs, and where
//
// The daemon writes its pid to <state dir>/hcs_fake.pid once it serves and
// removes it when it stops; detached, it logs to <state dir>/hcs_fake.log.
// Starting one where one already serves is not an error (exit 0, "already
// running"); stopping one that is not there neither.
#pragma once

#include <string>
#include <vector>

namespace hcsshim::hcs_fake {

struct ServicePaths {
  std::string address;  // unix:///... the daemon serves on
  std::string pidFile;  // <state dir>/hcs_fake.pid
  std::string logFile;  // <state dir>/hcs_fake.log
};

ServicePaths servicePaths(const std::string& address, const std::string& stateDir);

// detach starts `self daemonArgs... --log-file <log>` in its own session and
// returns once it serves (0), or 1 with the reason and its log's tail.
int detach(const std::string& self, const std::vector<std::string>& daemonArgs, const ServicePaths& paths);
int stop(const ServicePaths& paths);
int status(const ServicePaths& paths);

// writePidFile / removePidFile: the daemon's own side (removal only if the
// file still names this process).
void writePidFile(const std::string& path);
void removePidFile(const std::string& path);

}  // namespace hcsshim::hcs_fake
