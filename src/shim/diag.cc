#include "src/shim/task_service.h"

#include "src/shim/shimdiag.pb.h"

// The shim's diagnostics (hcsshim.shimdiag.v1.ShimDiag, tools/shimdiag) over
// the task model: what runs, a command in a task's utility VM, stacks.
namespace hcsshim::shim {

using runtime::Task;
namespace diag = hcsshim::shimdiag::v1;

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
