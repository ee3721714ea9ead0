// task_model.h: the tasks of containerd-shim-runhcs-v1 - each a container in
// a Linux utility VM (its own, or its pod sandbox's), with its init and exec
// processes, their states (process.h) and containerd's events.
//
// The model is the shim minus its transport: TaskService (task_service.h)
// is a thin ttrpc adapter over it, and the model reaches the machine only
// through what it is given - the runtime seams, an HcsApi, an EventSink and
// the ShimPlatform - so the same code runs under containerd, in unit tests
// against the in-process fake HCS and in the simulator.
//
//   TaskModel model(rt, hcs, events, platform, ShimConfig{.ns = "default", .defaultBootFiles = dir});
//   auto created = co_await model.create(req);     // boots the VM, creates the container
//   auto started = co_await model.start(startReq); // TaskStart; one TaskExit later
//
// Errors are containerd's: NotFound (unknown task/exec, or a kill after the
// exit), AlreadyExists, FailedPrecondition (a call illegal in the process's
// state), InvalidArgument (bad options, spec, signal), Unimplemented.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/containerd/api/task.pb.h"
#include "src/hcs/hcs_api.h"
#include "src/protobuf/wkt.pb.h"
#include "src/runtime/runtime.h"
#include "src/shim/events.h"
#include "src/shim/platform.h"

namespace hcsshim::shim {

struct ShimConfig {
  std::string ns;                // containerd namespace (CONTAINER_NAMESPACE for loggers)
  std::string defaultBootFiles;  // when options/annotations name none
};

// TaskSummary: a task as the diagnostics show it.
struct TaskSummary {
  std::string id, vmId, status;
  uint32_t pid = 0;
  std::vector<std::string> execs;
};

// UvmExecResult: a command run in a task's utility VM (shimdiag exec).
struct UvmExecResult {
  int32_t exitCode = -1;
  std::string out, err;
};

struct ModelState;
namespace taskv2 = containerd::task::v2;

// cleanupAfterDeadShim: the part of `containerd-shim-runhcs-v1 delete`
// (containerd's cleanup after a shim that died) that reaches HCS: a task
// that owns its VM (not a pod's container: its sandbox's cleanup does it)
// has the VM opened by id, terminated and closed. The response is what the
// command prints: pid 0, exit status 137 (killed), exited now. `hcs`
// nullptr: HCS could not be reached (nothing to terminate).
runtime::Task<taskv2::DeleteResponse> cleanupAfterDeadShim(runtime::Runtime& rt, hcs::HcsApi* hcs, std::string taskId,
                                                           bool ownsVm);

class TaskModel {
 public:
  TaskModel(runtime::Runtime& rt, hcs::HcsApi& hcs, EventSink& events, ShimPlatform& platform, ShimConfig config);
  ~TaskModel();
  TaskModel(const TaskModel&) = delete;
  TaskModel& operator=(const TaskModel&) = delete;

  using Empty = hcsshim::protobuf::Empty;
  template <typename T>
  using Result = runtime::Task<StatusOr<T>>;

  // containerd.task.v2.Task, one method per RPC.
  Result<taskv2::CreateTaskResponse> create(taskv2::CreateTaskRequest req);
  Result<taskv2::StartResponse> start(taskv2::StartRequest req);
  Result<taskv2::WaitResponse> wait(taskv2::WaitRequest req);
  Result<taskv2::StateResponse> state(taskv2::StateRequest req);
  Result<Empty> kill(taskv2::KillRequest req);
  Result<Empty> exec(taskv2::ExecProcessRequest req);
  Result<taskv2::DeleteResponse> remove(taskv2::DeleteRequest req);
  Result<taskv2::PidsResponse> pids(taskv2::PidsRequest req);
  Result<Empty> resizePty(taskv2::ResizePtyRequest req);
  Result<Empty> closeIo(taskv2::CloseIORequest req);
  Result<Empty> pause(taskv2::PauseRequest req);
  Result<Empty> resume(taskv2::ResumeRequest req);
  Result<taskv2::StatsResponse> stats(taskv2::StatsRequest req);
  Result<Empty> update(taskv2::UpdateTaskRequest req);
  Result<taskv2::ConnectResponse> connect(taskv2::ConnectRequest req);
  Result<Empty> shutdown(taskv2::ShutdownRequest req);

  // Diagnostics (tools/shimdiag).
  std::vector<TaskSummary> summaries() const;
  // execInUvm runs args in the utility VM of taskId ("" = any task's).
  Result<UvmExecResult> execInUvm(std::string taskId, std::vector<std::string> args);
  // guestStacks: every utility VM's guest agent stacks.
  runtime::Task<std::string> guestStacks();

  // done: Shutdown was called with no task left (the shim may exit).
  bool done() const;
  runtime::Task<void> waitDone();
  // finish marks the model done (the shim is exiting anyway).
  void finish();
  // closeAll: every task's container and VM down, rootfs unmounted.
  runtime::Task<void> closeAll();

 private:
  std::shared_ptr<ModelState> s_;
};

}  // namespace hcsshim::shim
