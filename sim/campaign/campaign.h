// campaign.h: one seeded run of the whole stack in one simulated world -
// the shim's task model, the in-process fake HCS, each task's utility VM
// with the real bridge on both sides and the real guest agent (over a fake
// container runtime with runc's behaviour) - played by actors that act as
// containerd, under faults the seed draws, judged by checkers.
//
//   sim::campaign::Options o{.seed = 1042, .dir = scratch};
//   sim::campaign::Result r = sim::campaign::run(o);
//   if (!r.violations.empty()) puts(replayCommand(o).c_str());
//
// The workload: `actors` concurrent containerd clients, each running
// `generations` tasks one after another (create, usually start, up to five
// of exec/kill/pause+resume/pids/closeio/resize/stats/state, then kill, wait
// and delete of every process, as `ctr run --rm` does; a task running a
// sleep is often a pod sandbox a container joins, CRI-style, first; then
// Shutdown),
// programs that echo, exit with a code, copy stdin (cat) or sleep until
// signalled.
//
// A shim's death (shim_process.h): its connections and HCS handles close,
// containerd's calls in flight fail, containerd runs `shim delete` for each
// of its tasks (their VMs terminated) and publishes their exit and delete,
// and new tasks go to a new shim.
//
// Faults (swarm testing: unless Options::faults says, each seed enables a
// random subset of the kinds, so that a rare combination is as likely as a
// common one) are injected during a fault window of 3-8 s of virtual time;
// after it, the run must settle.
//
// Checkers (Result::violations, one line each):
//   - containerd's event order per task: create first, start after create,
//     nothing after delete; an id is never created twice;
//   - every started process reports exactly one exit, a never-started one
//     none; an exit status is the program's own or 128 + a signal it was
//     sent (any status once its VM died: a crash, a cut bridge);
//   - a process's output has arrived, complete and in order, when its exit
//     is reported (a prefix of it when a fault cut its stdio or its VM);
//   - a container's first start succeeds unless its VM broke; every task's
//     delete succeeds; no VM dies (UnexpectedExit) that no fault killed;
//   - liveness: every actor finishes; no call takes longer than 90 s of
//     virtual time after the fault window; every task is deleted;
//   - cleanup: Shutdown with no task left ends the shim; no VM runs and no
//     compute system is left in HCS at the end;
//     every graceful VM shutdown reached a guest whose bridge was up.
//
// The same Options give the same trace, byte for byte (Result::traceHash).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/runtime/event_loop.h"

namespace hcsshim::sim::campaign {

enum class Fault : unsigned {
  kSplitWrites = 0,     // writes arrive in pieces cut anywhere (mid-header too)
  kDelayedWrites,       // writes arrive up to 30 ms late (connections reorder)
  kSlowBoot,            // a guest takes up to 3 s to boot
  kLateHcs,             // HCS operations complete up to 2 s late
  kNotificationChaos,   // HCS notifications dropped, duplicated, delayed
  kGuestCrash,          // guests die mid-run
  kStdioCut,            // stdio relay connections reset mid-stream
  kBridgeCut,           // bridge connections reset mid-frame
  kHcsHang,             // an HCS operation does not complete (for an hour: past the client's 4 min timeout)
  kShimDeath,           // the shim is killed (kill -9); containerd cleans up after it and starts another
};
inline constexpr unsigned kFaultCount = 10;
inline constexpr unsigned kAllFaults = (1u << kFaultCount) - 1;
// kSwarmFaults: what a seed draws from - every kind.
inline constexpr unsigned kSwarmFaults = kAllFaults;

std::string_view faultName(Fault f);
// parseFaultSet reads "swarm" (*out = nullopt: drawn per seed), "none",
// "all" or a comma list of fault names; false if a name is unknown or empty.
bool parseFaultSet(std::string_view text, std::optional<unsigned>* out);
// faultList: the names of a set, comma-separated ("none" if empty).
std::string faultList(unsigned faults);

struct Options {
  uint64_t seed = 1;
  int actors = 3;
  int generations = 2;
  // faults: the kinds enabled (bits by Fault); nullopt: drawn from the seed.
  std::optional<unsigned> faults;
  // dir: the run's scratch directory (emptied first, left for a post-mortem).
  std::string dir;
};

struct Result {
  std::vector<std::string> violations;
  unsigned faults = 0;                  // the kinds that were enabled
  std::vector<std::string> injected;    // the faults that happened, in order
  std::string trace;                    // the world's event trace
  uint64_t traceHash = 0;               // FNV-1a of trace
  size_t lifecycles = 0;                // tasks created
  size_t exits = 0;                     // exits reported
  uint64_t events = 0;                  // simulation events run
  runtime::Duration virtualTime{};      // how long the run took, virtually
  runtime::Duration slowestCall{};      // the longest call after the fault window
  size_t shimsKilled = 0;               // shim-death: shims that died
  size_t tasksCleanedUp = 0;            // live tasks containerd cleaned up after a dead shim
};

Result run(const Options& options);

// replayCommand: the one command that replays `options` (with the zoo bugs
// switched on now, if any).
std::string replayCommand(const Options& options);

}  // namespace hcsshim::sim::campaign
