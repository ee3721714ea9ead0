// process.h: the state machine of a task's processes (its init and its
// execs), after containerd's runc shim (one state per process; an illegal
// call in a state is that state's error, decided in one place).
//
//            start            exit             delete
//   Created -------> Running -------> Stopped --------> Deleted
//      |              |   ^              ^
//      |        pause |   | resume       | exit
//      |              v   |              |
//      |             Paused -------------+
//      +--------------------------------------------> Deleted (delete before start)
//
// Paused applies to a task's init (the whole utility VM is paused); an exec
// is never Paused itself.
#pragma once

#include <string>

#include "src/common/status.h"

namespace hcsshim::shim {

enum class ProcessState { kCreated, kRunning, kPaused, kStopped, kDeleted };
const char* stateName(ProcessState s);

// ProcessOp: what containerd can ask of a process.
enum class ProcessOp {
  kStart,
  kKill,
  kPause,
  kResume,
  kExec,     // start another process in the task (asked of its init)
  kResize,   // ResizePty
  kCloseIo,  // CloseIO
  kInspect,  // Pids, Stats, Update
  kDelete,
};
const char* opName(ProcessOp op);

// checkOp: OK if `op` is legal in state `s`, else the error containerd
// expects (NotFound for a deleted process or a kill after the exit,
// FailedPrecondition otherwise), naming the process.
Status checkOp(ProcessState s, ProcessOp op, const std::string& name);

// ProcessStateMachine: one process's state; transitions refuse illegal moves.
class ProcessStateMachine {
 public:
  ProcessState state() const { return state_; }
  bool started() const { return state_ != ProcessState::kCreated; }
  bool exited() const { return state_ == ProcessState::kStopped || state_ == ProcessState::kDeleted; }
  Status check(ProcessOp op, const std::string& name) const { return checkOp(state_, op, name); }
  // The transitions (each checks its precondition first).
  Status started(const std::string& name);
  Status paused(const std::string& name);
  Status resumed(const std::string& name);
  // exited: Running/Paused -> Stopped. False if the process had already
  // exited (a second exit is never reported).
  bool markExited();
  Status deleted(const std::string& name);

 private:
  ProcessState state_ = ProcessState::kCreated;
};

}  // namespace hcsshim::shim
