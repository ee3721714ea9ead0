// container_runtime.h: the guest agent's OCI runtime seam. RuncRuntime
// (runc_runtime.h) drives the real runc; tests may substitute their own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/common/json.h"
#include "src/common/status.h"
#include "src/runtime/process.h"
#include "src/runtime/task.h"

namespace hcsshim::gcs {

struct StdioSpec {
  bool in = false;
  bool out = false;
  bool err = false;
  bool terminal = false;  // one pty for all three
  uint16_t rows = 24;
  uint16_t columns = 80;
};

// A process of a container (its init or an exec).
class ContainerProcess {
 public:
  virtual ~ContainerProcess() = default;
  virtual int pid() const = 0;
  virtual runtime::Task<runtime::ExitStatus> wait() = 0;
  virtual std::optional<runtime::ExitStatus> exitStatus() const = 0;
  virtual Status signal(int sig) = 0;
  virtual Status resize(uint16_t rows, uint16_t columns) = 0;
  // takeStdio: our ends of its stdin (0), stdout (1), stderr (2) pipes or its
  // pty master (3); nullptr when not requested.
  virtual std::unique_ptr<runtime::Stream> takeStdio(int fd) = 0;
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;
  // create makes container `id` from the bundle (config.json inside) with its
  // init process stopped before exec; start lets the init run.
  virtual runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> create(std::string id, std::string bundle,
                                                                             StdioSpec stdio) = 0;
  // run is create + start in one step (the init runs at once).
  virtual runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> run(std::string id, std::string bundle,
                                                                          StdioSpec stdio) = 0;
  virtual runtime::Task<Status> start(std::string id) = 0;
  // exec runs an OCI process (JSON) in the running container.
  virtual runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> exec(std::string id, Json ociProcess,
                                                                           StdioSpec stdio) = 0;
  // update applies OCI LinuxResources (JSON) to a running container.
  virtual runtime::Task<Status> update(std::string id, Json resources) = 0;
  // remove deletes the container's runtime state (forced: kills it first).
  virtual runtime::Task<Status> remove(std::string id, bool force) = 0;
  virtual runtime::Task<StatusOr<std::vector<int>>> pids(std::string id) = 0;
  // exists tells whether the runtime still has state for id.
  virtual bool exists(const std::string& id) const = 0;
};

}  // namespace hcsshim::gcs
