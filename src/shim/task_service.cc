#include "src/shim/task_service.h"


namespace hcsshim::shim {

using runtime::Task;
using hcsshim::protobuf::Empty;

void registerTaskService(TaskModel& model, ttrpc::Server& server) {
  constexpr const char* kService = "containerd.task.v2.Task";
  TaskModel* m = &model;
#define HCS_SHIM_RPC(Method, Req, Resp, call)                                                                    \
  server.registerUnary<Req, Resp>(kService, Method, [m](ttrpc::CallContext&, const Req& r) { return m->call(r); })
  HCS_SHIM_RPC("Create", taskv2::CreateTaskRequest, taskv2::CreateTaskResponse, create);
  HCS_SHIM_RPC("Start", taskv2::StartRequest, taskv2::StartResponse, start);
  HCS_SHIM_RPC("Wait", taskv2::WaitRequest, taskv2::WaitResponse, wait);
  HCS_SHIM_RPC("State", taskv2::StateRequest, taskv2::StateResponse, state);
  HCS_SHIM_RPC("Kill", taskv2::KillRequest, Empty, kill);
  HCS_SHIM_RPC("Exec", taskv2::ExecProcessRequest, Empty, exec);
  HCS_SHIM_RPC("Delete", taskv2::DeleteRequest, taskv2::DeleteResponse, remove);
  HCS_SHIM_RPC("Pids", taskv2::PidsRequest, taskv2::PidsResponse, pids);
  HCS_SHIM_RPC("ResizePty", taskv2::ResizePtyRequest, Empty, resizePty);
  HCS_SHIM_RPC("CloseIO", taskv2::CloseIORequest, Empty, closeIo);
  HCS_SHIM_RPC("Connect", taskv2::ConnectRequest, taskv2::ConnectResponse, connect);
  HCS_SHIM_RPC("Shutdown", taskv2::ShutdownRequest, Empty, shutdown);
  HCS_SHIM_RPC("Pause", taskv2::PauseRequest, Empty, pause);
  HCS_SHIM_RPC("Resume", taskv2::ResumeRequest, Empty, resume);
  HCS_SHIM_RPC("Update", taskv2::UpdateTaskRequest, Empty, update);
  HCS_SHIM_RPC("Stats", taskv2::StatsRequest, taskv2::StatsResponse, stats);
#undef HCS_SHIM_RPC
  server.registerUnary<taskv2::CheckpointTaskRequest, Empty>(
      kService, "Checkpoint", [](ttrpc::CallContext&, const taskv2::CheckpointTaskRequest&) -> Task<StatusOr<Empty>> {
        co_return UnimplementedError("Checkpoint: runhcs does not checkpoint utility VM containers");
      });
}

}  // namespace hcsshim::shim
