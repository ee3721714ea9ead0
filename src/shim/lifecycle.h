// lifecycle.h: what both shim binaries (src/shim/cmd: main_linux.cc,
// main_windows.cc) do the same way around the task model - the group a
// task joins, `start`'s "reuse the group's server or start one and wait
// for it", and `serve`'s run until Shutdown (or the caller's stop).
// Addresses, processes and the HCS are the caller's (its platform's).
//
//   std::string group = shim::shimGroup(bundle, id);
//   Status up = shim::ensureServer(rt, address, spec, [&] { return hcsReachable(); });
//   shim::serveTasks(rt, model, events, std::move(listener), stop);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "src/runtime/process.h"
#include "src/runtime/runtime.h"
#include "src/runtime/transport.h"
#include "src/shim/events.h"
#include "src/shim/task_model.h"

namespace hcsshim::shim {

// ShimArgs: containerd's command line of a shim (Go-style flags, then the
// verb): start, delete, or serve (this project's server, started by start).
struct ShimArgs {
  std::string ns, address, publishBinary, id, bundle, socket;
  bool debug = false;
  std::string verb;  // start | delete | serve
};

// parseShimArgs: the arguments, or the exit status to end with now (after
// printing the version, or the usage with what was wrong: 2).
std::variant<ShimArgs, int> parseShimArgs(int argc, char** argv);

// shimGroup: the group a task joins - the pod's sandbox id
// (annotation io.kubernetes.cri.sandbox-id of the bundle's config.json),
// else the task's own id (also when config.json is missing or malformed:
// Create reports that).
std::string shimGroup(const std::string& bundle, const std::string& id);

// serverSpec: the `serve` process `start` starts - this executable with
// containerd's flags and -socket `address`, in the bundle, with no stdio
// (containerd reads start's output until it closes) and outliving start.
runtime::ProcessSpec serverSpec(const ShimArgs& args, const std::string& executable, const std::string& bundle,
                                const std::string& address);

// ensureServer: a server answers at `address` when it returns OK - one
// that already did (the group's), else the process `server` describes,
// started after beforeSpawn() said OK and waited for up to `timeout`.
// Errors: beforeSpawn's, the spawn's, Unavailable (the server exited or
// did not answer in time; the message says which).
Status ensureServer(runtime::Runtime& rt, const std::string& address, const runtime::ProcessSpec& server,
                    const std::function<Status()>& beforeSpawn,
                    runtime::Duration timeout = std::chrono::seconds(5));

// serveTasks serves the task and diagnostics services on `listener` until
// the model is done (Shutdown without tasks) or `stop` becomes true (set by
// the caller's own waiters, e.g. termination signals); then every task's
// VM is closed, queued events are forwarded and the server stops. The
// listener is closed when it returns.
void serveTasks(runtime::Runtime& rt, TaskModel& model, Publisher& events,
                std::unique_ptr<runtime::Listener> listener, bool& stop);

}  // namespace hcsshim::shim
