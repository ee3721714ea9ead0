// result.h: one VM's outcome in uvmboot (both platforms' mains) and how it
// is printed: "ID: booted in X ms[, exit code N]" and the command's output
// indented, or "ID: FAILED after X ms: <error>".
#pragma once

#include <cstdio>
#include <string>

#include "src/common/status.h"

namespace hcsshim::uvmboot {

struct Result {
  std::string id;
  Status status;
  double bootMs = 0;
  int exitCode = -1;
  std::string output;
};

// print: the lines above; returns whether the VM failed.
inline bool print(const Result& r, bool ranCommand) {
  if (!r.status.ok()) {
    std::printf("%s: FAILED after %.1f ms: %s\n", r.id.c_str(), r.bootMs, r.status.toString().c_str());
    return true;
  }
  std::printf("%s: booted in %.1f ms", r.id.c_str(), r.bootMs);
  if (ranCommand) std::printf(", exit code %d", r.exitCode);
  std::printf("\n");
  size_t pos = 0;
  while (pos < r.output.size()) {
    size_t nl = r.output.find('\n', pos);
    if (nl == std::string::npos) nl = r.output.size();
    std::printf("  %s\n", r.output.substr(pos, nl - pos).c_str());
    pos = nl + 1;
  }
  return false;
}

}  // namespace hcsshim::uvmboot
