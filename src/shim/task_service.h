// task_service.h: containerd.task.v2.Task (and hcsshim.shimdiag.v1.ShimDiag)
// over ttrpc - a thin adapter: each RPC decodes its request, calls the task
// model (task_model.h) and encodes the answer; the model's Status becomes the
// ttrpc status (containerd maps its codes to errdefs).
//
//   TaskModel model(rt, hcs, events, platform, config);
//   ttrpc::Server server(rt, {.requireSameUser = true});
//   registerTaskService(model, server);
//   registerDiagService(model, server);
#pragma once

#include "src/shim/task_model.h"
#include "src/ttrpc/server.h"

namespace hcsshim::shim {

// registerTaskService: containerd.task.v2.Task on server (Checkpoint is
// Unimplemented: runhcs does not checkpoint utility VM containers).
void registerTaskService(TaskModel& model, ttrpc::Server& server);

// registerDiagService: hcsshim.shimdiag.v1.ShimDiag (tools/shimdiag):
// ExecInUVM, Stacks, Tasks.
void registerDiagService(TaskModel& model, ttrpc::Server& server);

}  // namespace hcsshim::shim
