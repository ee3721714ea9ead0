#include "src/common/bug_zoo.h"

#include <atomic>

namespace hcsshim::zoo {

// Set only through //src/common:bug_zoo_switch (testonly).
std::atomic<unsigned> reintroducedBugs{0};

bool reintroduced(Bug bug) {
  return (reintroducedBugs.load(std::memory_order_relaxed) >> static_cast<unsigned>(bug)) & 1u;
}

std::string_view name(Bug bug) {
  switch (bug) {
    case Bug::kExitBeforeOutputDrained: return "exit-before-output-drained";
    case Bug::kRuncStateDeletedDuringStart: return "runc-state-deleted-during-start";
    case Bug::kBridgeClosedBeforeShutdown: return "bridge-closed-before-shutdown";
  }
  return "unknown";
}

}  // namespace hcsshim::zoo
