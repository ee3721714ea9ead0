// compute_system.h: the HCS client objects (what hcsshim's internal/hcs
// provides): ComputeSystem and Process over an HcsApi.
//
//   HcsOptions opts;  // timeouts default to hcsshim's (4 min)
//   HCS_CO_ASSIGN_OR_RETURN(auto cs, co_await ComputeSystem::create(api, loop, "c1", doc, opts));
//   HCS_CO_RETURN_IF_ERROR(co_await cs->start());
//   HCS_CO_ASSIGN_OR_RETURN(auto p, co_await cs->createProcess(params));
//   int code = co_await p->wait();
//
// Errors name the operation and object: "Start(c1): ... [FailedPrecondition,
// HRESULT 0x80370105 HCS_E_INVALID_STATE]". Timeouts come from HcsOptions and
// are enforced with the loop's timers (HCS_E_OPERATION_TIMEOUT); nothing sleeps.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "src/hcs/hcs_api.h"
#include "src/runtime/event_loop.h"
#include "src/schema/hcs.h"

namespace hcsshim::hcs {

struct HcsOptions {
  runtime::Duration createTimeout = std::chrono::minutes(4);
  runtime::Duration startTimeout = std::chrono::minutes(4);
  runtime::Duration pauseResumeTimeout = std::chrono::minutes(4);
  runtime::Duration saveTimeout = std::chrono::minutes(4);
  runtime::Duration defaultTimeout = std::chrono::minutes(4);
};

// SystemExit: how a compute system ended (from its SystemExited notification).
struct SystemExit {
  HResult status = 0;
  std::string exitType;  // GracefulExit, ForcedExit, UnexpectedExit, Unknown
};

class Process;

class ComputeSystem {
 public:
  static runtime::Task<StatusOr<std::unique_ptr<ComputeSystem>>> create(HcsApi& api, runtime::EventLoop& loop,
                                                                        std::string id, std::string document,
                                                                        HcsOptions options = {});
  static runtime::Task<StatusOr<std::unique_ptr<ComputeSystem>>> open(HcsApi& api, runtime::EventLoop& loop,
                                                                      std::string id, HcsOptions options = {});
  ~ComputeSystem();

  const std::string& id() const;

  runtime::Task<Status> start();
  runtime::Task<Status> shutdown();
  runtime::Task<Status> terminate();
  runtime::Task<Status> pause();
  runtime::Task<Status> resume();
  runtime::Task<Status> save(std::string options = {});
  runtime::Task<StatusOr<schema::Properties>> properties(std::vector<std::string> types = {});
  runtime::Task<Status> modify(const schema::ModifySettingRequest& request);

  // wait completes when the system has exited (SystemExited seen).
  runtime::Task<SystemExit> wait();
  std::optional<SystemExit> exited() const;

  runtime::Task<StatusOr<std::unique_ptr<Process>>> createProcess(const schema::ProcessParameters& params);
  runtime::Task<StatusOr<std::unique_ptr<Process>>> openProcess(uint32_t pid);

  // close releases the handle (idempotent); later calls fail with ERROR_INVALID_HANDLE.
  void close();

  struct State;

 private:
  explicit ComputeSystem(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

class Process {
 public:
  ~Process();
  uint32_t pid() const;
  runtime::Stream* stdinStream();
  runtime::Stream* stdoutStream();
  runtime::Stream* stderrStream();

  // signal sends a Linux signal ({"Signal": n}).
  runtime::Task<Status> signal(int sig);
  // kill terminates through a second handle; a process that already exited is not an error.
  runtime::Task<Status> kill();
  runtime::Task<Status> resizeConsole(uint16_t height, uint16_t width);
  runtime::Task<Status> closeStdin();
  runtime::Task<StatusOr<schema::ProcessStatus>> properties();
  // wait returns the exit code once the process has exited.
  runtime::Task<int> wait();
  // exitCode is -1 until the process has exited.
  int exitCode() const;
  void close();

  struct State;

 private:
  friend class ComputeSystem;
  explicit Process(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::hcs
