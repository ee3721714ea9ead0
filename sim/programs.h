// programs.h: simulated processes.
//
// A "program" is a coroutine registered under a name; spawning that name
// through a simulated node's ProcessRunner runs it as a process with its own
// node (runtime), argv, environment, simulated stdio pipes, an exit code and
// signals. This is how the simulator runs, say, the guest agent "inside" a VM
// without leaving the thread.
//
//   world.programs().registerProgram("echo", [](sim::ProgramContext& ctx) -> Task<int> {
//     co_await ctx.stdoutStream->write(ctx.args[1] + "\n");
//     co_return 0;
//   });
//
// Signal semantics: SIGKILL ends the process at once (exit 137; its stdio
// closes and waiters see the exit; a suspended coroutine cannot be torn down
// safely, so the program's coroutine runs on until it returns, with killed()
// true and its result discarded). Other
// signals are queued for the program (nextSignal()); a program that has not
// called handleSignals() is ended by SIGTERM/SIGINT/SIGHUP like a default
// disposition would (128 + signal).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/world.h"
#include "src/runtime/process.h"

namespace hcsshim::sim {

class Node;

struct ProgramContext {
  Node* node = nullptr;  // the process's own runtime
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  // The child's ends of kPipe stdio (nullptr otherwise).
  std::unique_ptr<runtime::Stream> stdinStream, stdoutStream, stderrStream;

  // handleSignals: the program takes SIGTERM/SIGINT/SIGHUP itself.
  void handleSignals() { handlesSignals = true; }
  // nextSignal waits for the next signal (0 if the process was killed).
  runtime::Task<int> nextSignal();
  bool killed() const { return killed_; }

  // Internal state shared with the runner.
  bool handlesSignals = false;
  bool killed_ = false;
  std::deque<int> signals;
  runtime::WaitList signalWaiters;
};

using Program = std::function<runtime::Task<int>(ProgramContext&)>;

class SimProcessRunner {
 public:
  explicit SimProcessRunner(World& w) : world_(w) {}

  // registerProgram makes `name` spawnable (by exact path or by basename).
  void registerProgram(const std::string& name, Program program);

  // runnerFor returns the ProcessRunner seam of a node.
  std::unique_ptr<runtime::ProcessRunner> runnerFor(Node& parent);

  // Internal.
  const Program* find(const std::string& path) const;
  World& world() { return world_; }

 private:
  World& world_;
  std::map<std::string, Program> programs_;
};

}  // namespace hcsshim::sim
