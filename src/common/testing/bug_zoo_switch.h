// bug_zoo_switch.h: turning a zoo bug (src/common/bug_zoo.h) back on, for
// tests only (this target is testonly).
//
//   zoo::Reintroduce bug(zoo::Bug::kExitBeforeOutputDrained);  // until scope end
#pragma once

#include <optional>
#include <string_view>

#include "src/common/bug_zoo.h"

namespace hcsshim::zoo {

void setReintroduced(Bug bug, bool on);
// byName: the bug a flag name names (name() in bug_zoo.h).
std::optional<Bug> byName(std::string_view flagName);

class Reintroduce {
 public:
  explicit Reintroduce(Bug bug) : bug_(bug) { setReintroduced(bug_, true); }
  ~Reintroduce() { setReintroduced(bug_, false); }
  Reintroduce(const Reintroduce&) = delete;
  Reintroduce& operator=(const Reintroduce&) = delete;

 private:
  Bug bug_;
};

}  // namespace hcsshim::zoo
