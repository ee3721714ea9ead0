// task_service.h: containerd.task.v2.Task for containerd-shim-runhcs-v1.
//
// Each task gets a Linux utility VM (src/uvm) through HCS; the task's rootfs
// (mounted by the shim from containerd's mounts) is shared into the VM and
// the container runs there through the guest agent. Process states follow
// containerd's model (created -> running -> stopped), with exactly one
// TaskExit per process, published through containerd's events service.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "src/hcs/hcs_api.h"
#include "src/hns/hns_api.h"
#include "src/runtime/real_runtime.h"
#include "src/shim/events.h"
#include "src/ttrpc/server.h"

namespace hcsshim::shim {

struct ShimConfig {
  std::string ns;
  std::string vsockRoot;         // the HCS (fake) daemon's hybrid vsock sockets
  std::string defaultBootFiles;  // when options/annotations name none
  // connectHns reaches HNS; called the first time a task's spec names a
  // network namespace (windows.network.networkNamespace, as containerd's
  // CRI sets it for a pod). Unset: such a task is refused.
  std::function<runtime::Task<StatusOr<std::unique_ptr<hns::HnsApi>>>(runtime::Runtime&)> connectHns;
};

struct TaskState;

class TaskService {
 public:
  TaskService(runtime::RealRuntime& rt, hcs::HcsApi& hcs, Publisher& events, ShimConfig config);
  ~TaskService();
  void registerWith(ttrpc::Server& server);
  // done: Shutdown was called with no task left (the shim may exit).
  bool done() const;
  runtime::Task<void> waitDone();
  // finish marks the service done (the shim is exiting anyway).
  void finish();
  // closeAll: every task's VM down (the shim is exiting).
  runtime::Task<void> closeAll();

 private:
  std::shared_ptr<TaskState> s_;
};

// vmIdFor: the utility VM a task runs in (also used by `delete` to clean up).
std::string vmIdFor(const std::string& taskId);

}  // namespace hcsshim::shim
