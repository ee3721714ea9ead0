// bug_zoo.h: real bugs this project fixed, kept re-introducible so that the
// whole-stack campaign (sim/campaign) proves it would find them again.
//
// Product code asks `zoo::reintroduced(Bug::kX)` at the one place the fix
// lives and takes the old path when it answers true. Only a test can make it
// answer true: the switch is in //src/common:bug_zoo_switch, which is
// testonly (Bazel refuses it in a product binary), so in every binary we
// ship the answer is always false.
#pragma once

#include <string_view>

namespace hcsshim::zoo {

enum class Bug : unsigned {
  // The shim reported a process's exit before its stdout/stderr relays had
  // drained (7a50123: an exec's output lost under ASan).
  kExitBeforeOutputDrained = 0,
  // gcs deleted an exited init's runtime state while `runc start` still ran
  // (bc0f6b5: runc start failed on its vanished exec.fifo).
  kRuncStateDeletedDuringStart = 1,
  // UtilityVM::close hung up the bridge before the HCS shutdown reached the
  // guest (18ba9e3: the guest died before the shutdown, UnexpectedExit).
  kBridgeClosedBeforeShutdown = 2,
};
inline constexpr unsigned kBugCount = 3;

// reintroduced: whether a test switched the old behaviour of `bug` back on.
bool reintroduced(Bug bug);

// name: the bug's flag name ("exit-before-output-drained", ...).
std::string_view name(Bug bug);

}  // namespace hcsshim::zoo
