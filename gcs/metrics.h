// metrics.h: a container's resource usage from its cgroup, shaped like
// containerd's cgroups v1 Metrics (what hcsshim reports as LCOWMetrics):
//   {"pids":{"current","limit"},
//    "cpu":{"usage":{"total","kernel","user"}},          (nanoseconds)
//    "memory":{"cache","rss","usage":{"usage","limit","max","failcnt"}}}
// Works on cgroup v1 (one hierarchy per controller) and v2 (unified).
#pragma once

#include <string>

#include "src/common/json.h"
#include "src/common/status.h"

namespace hcsshim::gcs {

// cgroupMetrics reads the cgroup at `path` (e.g. "/gcs/<id>") under `root`
// (normally /sys/fs/cgroup). NotFound if no controller has it.
StatusOr<Json> cgroupMetrics(const std::string& root, const std::string& path);

// removeEmptyCgroup removes `path` under every hierarchy where it is empty.
void removeEmptyCgroup(const std::string& root, const std::string& path);

}  // namespace hcsshim::gcs
