// hnsbench: HCN endpoint churn - endpoints created and deleted per second
// with 1,000 endpoints already on the network - through the hcs_fake daemon
// (unix socket, ttrpc, DaemonHns) and, for comparison, in process.
//
//   hnsbench [--existing N] [--cycles N]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "functional/harness/hcs_fake_daemon.h"
#include "hcs_fake/hns.h"
#include "platforms/linux/daemon_hns.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/hns/hcn.h"
#include "src/runtime/real_runtime.h"

namespace {

using namespace hcsshim;
using runtime::Task;

struct Result {
  double perSecond = 0;
  double p50us = 0, p99us = 0;
  std::string error;
};

Task<Result> churn(runtime::EventLoop& loop, hns::HnsApi& api, int existing, int cycles) {
  hns::HcnClient hcn(api);
  Result r;
  schema::HostComputeNetwork n = hns::natNetwork("bench", "10.200.0.0/16", "10.200.0.1");
  auto net = co_await hcn.createNetwork(n);
  if (!net.ok()) {
    r.error = net.status().toString();
    co_return r;
  }
  std::vector<std::string> ids;
  for (int i = 0; i < existing; ++i) {
    auto ep = co_await hcn.createEndpoint(*net->id, {});
    if (!ep.ok()) {
      r.error = ep.status().toString();
      co_return r;
    }
    ids.push_back(*ep->id);
  }
  std::vector<double> lat;
  auto start = loop.now();
  for (int i = 0; i < cycles; ++i) {
    auto t0 = loop.now();
    auto ep = co_await hcn.createEndpoint(*net->id, {});
    if (!ep.ok()) {
      r.error = ep.status().toString();
      co_return r;
    }
    Status st = co_await hcn.deleteEndpoint(*ep->id);
    if (!st.ok()) {
      r.error = st.toString();
      co_return r;
    }
    lat.push_back(std::chrono::duration<double, std::micro>(loop.now() - t0).count());
  }
  double secs = std::chrono::duration<double>(loop.now() - start).count();
  r.perSecond = cycles / secs;
  std::sort(lat.begin(), lat.end());
  r.p50us = lat[lat.size() / 2];
  r.p99us = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
  for (auto& id : ids) (void)co_await hcn.deleteEndpoint(id);
  (void)co_await hcn.deleteNetwork(*net->id);
  co_return r;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t existingFlag = 1000, cyclesFlag = 2000;
  FlagSet flags("hnsbench");
  flags.integer("existing", &existingFlag, "endpoints that exist while measuring");
  flags.integer("cycles", &cyclesFlag, "create+delete cycles");
  auto parsed = flags.parse(argc, argv);
  if (!parsed.ok() || !parsed->empty() || existingFlag < 0 || cyclesFlag < 1) {
    std::fprintf(stderr, "%s\nusage: hnsbench [flags]\n%s", parsed.ok() ? "hnsbench: bad arguments" : parsed.status().message().c_str(),
                 flags.usage().c_str());
    return 2;
  }
  int existing = static_cast<int>(existingFlag), cycles = static_cast<int>(cyclesFlag);
  log::setLevel(LogLevel::kWarn);
  auto rt = std::move(*runtime::RealRuntime::create("hnsbench"));
  char tmpl[] = "/tmp/hnsbench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto daemon = functional::HcsFakeDaemon::start(*rt, dir, {"-quiet", "--vm-backend", "none"});
  if (!daemon.ok()) {
    std::fprintf(stderr, "hnsbench: %s\n", daemon.status().toString().c_str());
    return 1;
  }
  auto api = runtime::blockOn(rt->loop(), platforms::DaemonHns::connect(*rt, (*daemon)->address()));
  if (!api.ok()) {
    std::fprintf(stderr, "hnsbench: %s\n", api.status().toString().c_str());
    return 1;
  }
  Result wire = runtime::blockOn(rt->loop(), churn(rt->loop(), **api, existing, cycles));
  hcs_fake::FakeHns fake(hcs_fake::FakeHnsOptions{});
  hcs_fake::InProcessHns local(fake);
  Result inproc = runtime::blockOn(rt->loop(), churn(rt->loop(), local, existing, cycles));
  api->reset();
  runtime::drain(rt->loop());
  (*daemon)->stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!wire.error.empty() || !inproc.error.empty()) {
    std::fprintf(stderr, "hnsbench: %s%s\n", wire.error.c_str(), inproc.error.c_str());
    return 1;
  }
  std::printf("| HCN endpoint create+delete, %d existing (%d cycles) | per second | p50 | p99 |\n|---|---|---|---|\n",
              existing, cycles);
  std::printf("| through the hcs_fake daemon (DaemonHns) | %.0f | %.0f us | %.0f us |\n", wire.perSecond, wire.p50us, wire.p99us);
  std::printf("| in process (InProcessHns) | %.0f | %.0f us | %.0f us |\n", inproc.perSecond, inproc.p50us, inproc.p99us);
  return 0;
}
