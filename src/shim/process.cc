#include "src/shim/process.h"

namespace hcsshim::shim {

const char* stateName(ProcessState s) {
  switch (s) {
    case ProcessState::kCreated: return "created";
    case ProcessState::kRunning: return "running";
    case ProcessState::kPaused: return "paused";
    case ProcessState::kStopped: return "stopped";
    case ProcessState::kDeleted: return "deleted";
  }
  return "?";
}

const char* opName(ProcessOp op) {
  switch (op) {
    case ProcessOp::kStart: return "start";
    case ProcessOp::kKill: return "kill";
    case ProcessOp::kPause: return "pause";
    case ProcessOp::kResume: return "resume";
    case ProcessOp::kExec: return "exec in";
    case ProcessOp::kResize: return "resize the console of";
    case ProcessOp::kCloseIo: return "close the stdin of";
    case ProcessOp::kInspect: return "inspect";
    case ProcessOp::kDelete: return "delete";
  }
  return "?";
}

Status checkOp(ProcessState s, ProcessOp op, const std::string& name) {
  using S = ProcessState;
  using O = ProcessOp;
  auto refuse = [&](const std::string& why) {
    return FailedPreconditionError(std::string("cannot ") + opName(op) + " process " + name + ": " + why);
  };
  if (s == S::kDeleted) return NotFoundError("process " + name + " not found (deleted)");
  switch (op) {
    case O::kStart:
      if (s == S::kCreated) return OkStatus();
      return refuse(s == S::kStopped ? "it has exited" : "it was already started");
    case O::kKill:
      if (s == S::kRunning || s == S::kPaused) return OkStatus();
      // containerd's runc shim: signalling a finished process is "not found".
      if (s == S::kStopped) return NotFoundError("process " + name + " has already exited");
      return refuse("it is not running");
    case O::kPause:
      if (s == S::kRunning) return OkStatus();
      return refuse(s == S::kPaused ? "it is already paused" : std::string("it is ") + stateName(s));
    case O::kResume:
      if (s == S::kPaused) return OkStatus();
      return refuse(s == S::kRunning ? "it is not paused" : std::string("it is ") + stateName(s));
    case O::kExec:
      if (s == S::kCreated || s == S::kRunning) return OkStatus();
      return refuse(s == S::kPaused ? "the task is paused" : "the task has exited");
    case O::kResize:
    case O::kInspect:
      if (s == S::kRunning || s == S::kPaused) return OkStatus();
      return refuse(std::string("it is ") + stateName(s));
    case O::kCloseIo:
      return OkStatus();  // closing stdin of a process that never started or ended is a no-op
    case O::kDelete:
      if (s == S::kCreated || s == S::kStopped) return OkStatus();
      return refuse("it is still running");
  }
  return InternalError("unknown process operation");
}

Status ProcessStateMachine::started(const std::string& name) {
  HCS_RETURN_IF_ERROR(check(ProcessOp::kStart, name));
  state_ = ProcessState::kRunning;
  return OkStatus();
}

Status ProcessStateMachine::paused(const std::string& name) {
  HCS_RETURN_IF_ERROR(check(ProcessOp::kPause, name));
  state_ = ProcessState::kPaused;
  return OkStatus();
}

Status ProcessStateMachine::resumed(const std::string& name) {
  HCS_RETURN_IF_ERROR(check(ProcessOp::kResume, name));
  state_ = ProcessState::kRunning;
  return OkStatus();
}

bool ProcessStateMachine::markExited() {
  if (state_ != ProcessState::kRunning && state_ != ProcessState::kPaused) return false;
  state_ = ProcessState::kStopped;
  return true;
}

Status ProcessStateMachine::deleted(const std::string& name) {
  HCS_RETURN_IF_ERROR(check(ProcessOp::kDelete, name));
  state_ = ProcessState::kDeleted;
  return OkStatus();
}

}  // namespace hcsshim::shim
