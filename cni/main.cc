// hcn-nat: the CNI plugin binary (plugin.h). CNI's contract: the command
// and the container in CNI_* environment variables, the network config on
// stdin, the result (or CNI's error object) on stdout. HNS here is the fake
// HCS daemon's, at $HCS_FAKE_ADDRESS. Logs go to stderr (structured; more
// with HCS_CNI_DEBUG=1), which the runtime keeps out of the result.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "cni/plugin.h"
#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/daemon_hns.h"
#include "src/common/log.h"
#include "src/runtime/event_loop.h"
#include "src/runtime/real_runtime.h"

extern char** environ;

int main() {
  using namespace hcsshim;
  if (const char* d = getenv("HCS_CNI_DEBUG"); !d || std::string(d) != "1") log::setLevel(LogLevel::kWarn);
  cni::Request req;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.compare(0, 4, "CNI_") == 0) req.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  req.config.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  cni::Response r;
  if (req.env["CNI_COMMAND"] == "VERSION") {
    r = cni::versionResponse();
  } else {
    auto rt = runtime::RealRuntime::create("hcn-nat");
    if (!rt.ok()) {
      r = cni::errorResponse("1.0.0", cni::kTryAgainLater, "cannot start", rt.status().toString());
    } else {
      auto api = runtime::blockOn((*rt)->loop(), platforms::DaemonHns::connect(**rt, platforms::defaultHcsAddress()));
      if (!api.ok()) {
        r = cni::errorResponse("1.0.0", cni::kTryAgainLater, "HNS is not reachable at " + platforms::defaultHcsAddress(),
                               api.status().toString());
      } else {
        r = runtime::blockOn((*rt)->loop(), cni::run(req, **api));
      }
    }
  }
  std::fwrite(r.stdout.data(), 1, r.stdout.size(), stdout);
  std::fflush(stdout);
  return r.exitCode;
}
