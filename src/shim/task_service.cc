#include "src/shim/task_service.h"

#include "src/shim/shimdiag.pb.h"

namespace hcsshim::shim {

using runtime::Task;
using hcsshim::protobuf::Empty;
namespace diag = hcsshim::shimdiag::v1;

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

void registerDiagService(TaskModel& model, ttrpc::Server& server) {
  constexpr const char* kDiag = "hcsshim.shimdiag.v1.ShimDiag";
  TaskModel* m = &model;
  server.registerUnary<diag::ExecInUVMRequest, diag::ExecInUVMResponse>(
      kDiag, "ExecInUVM", [m](ttrpc::CallContext&, const diag::ExecInUVMRequest& req) -> Task<StatusOr<diag::ExecInUVMResponse>> {
        std::vector<std::string> args(req.args().begin(), req.args().end());
        auto r = co_await m->execInUvm(req.task_id(), std::move(args));
        if (!r.ok()) co_return r.status();
        diag::ExecInUVMResponse resp;
        resp.set_exit_code(r->exitCode);
        resp.set_stdout(r->out);
        resp.set_stderr(r->err);
        co_return resp;
      });
  server.registerUnary<diag::StacksRequest, diag::StacksResponse>(
      kDiag, "Stacks", [m](ttrpc::CallContext& ctx, const diag::StacksRequest&) -> Task<StatusOr<diag::StacksResponse>> {
        (void)ctx;
        diag::StacksResponse r;
        auto tasks = m->summaries();
        std::string shim = std::to_string(tasks.size()) + " tasks\n";
        for (const auto& t : tasks) {
          shim += "task " + t.id + " vm " + (t.vmId.empty() ? "-" : t.vmId) + " pid " + std::to_string(t.pid) + " " +
                  t.status + " execs " + std::to_string(t.execs.size()) + "\n";
        }
        r.set_shim(shim);
        r.set_guests(co_await m->guestStacks());
        co_return r;
      });
  server.registerUnary<diag::TasksRequest, diag::TasksResponse>(
      kDiag, "Tasks", [m](ttrpc::CallContext&, const diag::TasksRequest&) -> Task<StatusOr<diag::TasksResponse>> {
        diag::TasksResponse r;
        for (const auto& t : m->summaries()) {
          auto* info = r.add_tasks();
          info->set_id(t.id);
          info->set_vm_id(t.vmId);
          info->set_pid(t.pid);
          info->set_status(t.status);
          for (const auto& e : t.execs) info->add_execs(e);
        }
        co_return r;
      });
}

}  // namespace hcsshim::shim
