#include "src/common/testing/bug_zoo_switch.h"

#include <atomic>

namespace hcsshim::zoo {

extern std::atomic<unsigned> reintroducedBugs;

void setReintroduced(Bug bug, bool on) {
  unsigned bit = 1u << static_cast<unsigned>(bug);
  if (on) {
    reintroducedBugs.fetch_or(bit);
  } else {
    reintroducedBugs.fetch_and(~bit);
  }
}

std::optional<Bug> byName(std::string_view flagName) {
  for (unsigned i = 0; i < kBugCount; ++i) {
    if (name(static_cast<Bug>(i)) == flagName) return static_cast<Bug>(i);
  }
  return std::nullopt;
}

}  // namespace hcsshim::zoo
