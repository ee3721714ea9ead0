// replay: runs whole-stack campaign seeds (sim/campaign/campaign.h) - one to
// replay a failure, or any number as a campaign.
//
//   bazel run //sim:replay -- --seed=1042                 # replay one seed
//   bazel run //sim:replay -- --seed=1042 --trace         # ... and print its trace
//   bazel run -c opt //sim:replay -- --seed=1 --count=100000   # a campaign
//   bazel run //sim:replay -- --seed=1 --count=50 --zoo=exit-before-output-drained
//
// One line per seed (seed, faults, lifecycles, exits, trace hash, PASS or
// FAIL and its violations), then a summary with lifecycles per second of
// this process's CPU time. Exit status 1 if any seed failed, 2 on bad flags.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "sim/campaign/campaign.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/common/testing/bug_zoo_switch.h"

namespace {

double cpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hcsshim;
  namespace campaign = sim::campaign;
  FlagSet flags("replay");
  int64_t seed = 1, count = 1, actors = 3, generations = 2;
  std::string faults = "swarm", dir;
  std::vector<std::string> zoos;
  bool trace = false, debug = false, quiet = false;
  flags.integer("seed", &seed, "the (first) seed");
  flags.integer("count", &count, "how many seeds from --seed");
  flags.integer("actors", &actors, "concurrent containerd clients");
  flags.integer("generations", &generations, "tasks each actor runs one after another");
  flags.string("faults", &faults, "swarm (drawn per seed), none, all, or a comma list of fault kinds");
  flags.strings("zoo", &zoos, "re-introduce a fixed bug (repeatable): exit-before-output-drained, "
                              "runc-state-deleted-during-start, bridge-closed-before-shutdown");
  flags.string("dir", &dir, "scratch directory (default: a new one under $TMPDIR or /dev/shm, removed after)");
  flags.boolean("trace", &trace, "print each seed's trace");
  flags.boolean("quiet", &quiet, "print only failing seeds and the summary");
  flags.boolean("debug", &debug, "log the components' events (stderr)");
  auto args = flags.parse(argc, argv);
  std::optional<unsigned> faultSet;
  bool faultsOk = campaign::parseFaultSet(faults, &faultSet);
  if (!args.ok() || !args->empty() || !faultsOk || count < 1 || actors < 1 || generations < 1) {
    std::fprintf(stderr, "replay: %s\n%s",
                 !args.ok() ? args.status().message().c_str()
                 : !faultsOk ? ("unknown fault kind in --faults=" + faults).c_str()
                                 : "--count, --actors and --generations must be positive; no positional arguments",
                 flags.usage().c_str());
    return 2;
  }
  for (const std::string& z : zoos) {
    auto bug = zoo::byName(z);
    if (!bug) {
      std::fprintf(stderr, "replay: unknown --zoo=%s\n", z.c_str());
      return 2;
    }
    zoo::setReintroduced(*bug, true);
  }
  log::setLevel(debug ? LogLevel::kDebug : LogLevel::kOff);
  bool ownDir = dir.empty();
  if (ownDir) {
    // The stack writes real files (bundles, the guests' state): on tmpfs
    // when there is one, or the file system's costs dominate the run.
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp ? tmp : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = base + "/hcs-replay-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("replay: mkdtemp");
      return 1;
    }
    dir = tmpl;
  }
  size_t failed = 0, lifecycles = 0, exits = 0;
  double cpuStart = cpuSeconds();
  for (int64_t i = 0; i < count; ++i) {
    campaign::Options o;
    o.seed = static_cast<uint64_t>(seed + i);
    o.actors = static_cast<int>(actors);
    o.generations = static_cast<int>(generations);
    o.faults = faultSet;
    o.dir = dir + "/run";
    campaign::Result r = campaign::run(o);
    lifecycles += r.lifecycles;
    exits += r.exits;
    bool ok = r.violations.empty();
    if (!ok) ++failed;
    if (!ok || !quiet) {
      std::printf("seed=%llu faults=%s lifecycles=%zu exits=%zu events=%llu virtual_ms=%lld trace_hash=%016llx %s\n",
                  static_cast<unsigned long long>(o.seed), campaign::faultList(r.faults).c_str(), r.lifecycles,
                  r.exits, static_cast<unsigned long long>(r.events),
                  static_cast<long long>(r.virtualTime.count() / 1000000), static_cast<unsigned long long>(r.traceHash),
                  ok ? "PASS" : "FAIL");
    }
    if (!ok) {
      for (const std::string& f : r.injected) std::printf("  injected: %s\n", f.c_str());
      for (const std::string& v : r.violations) std::printf("  violation: %s\n", v.c_str());
      std::printf("  replay: %s\n", campaign::replayCommand(o).c_str());
    }
    if (trace) std::fputs(r.trace.c_str(), stdout);
    std::fflush(stdout);
  }
  double cpu = cpuSeconds() - cpuStart;
  std::printf("summary: seeds=%lld failed=%zu lifecycles=%zu exits=%zu cpu_s=%.2f lifecycles_per_cpu_s=%.0f\n",
              static_cast<long long>(count), failed, lifecycles, exits, cpu, cpu > 0 ? lifecycles / cpu : 0.0);
  if (ownDir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return failed ? 1 : 0;
}
