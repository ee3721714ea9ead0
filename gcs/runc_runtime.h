// runc_runtime.h: ContainerRuntime over the real runc binary.
//
//   runc --root <root> --log <bundle>/runc.log --log-format json
//        create --bundle <bundle> --pid-file <bundle>/init.pid [--console-socket S] [--no-pivot] <id>
//   runc run --detach ... <id> (create + start in one) | start <id> | exec --process F --pid-file P --detach [...] <id>
//   runc update --resources F <id> | delete [--force] <id> | ps --format json <id>
//
// Container processes outlive the runc invocation that made them and are
// reparented to us (the agent is a child subreaper, or PID 1); they are
// adopted by pid so their exit codes are ours. Non-terminal stdio is the
// pipes runc was started with (runc passes them through); a terminal's master
// arrives over --console-socket.
#pragma once

#include <ios>
#include <map>
#include <string>

#include "gcs/container_runtime.h"
#include "src/runtime/epoll_loop.h"
#include "src/runtime/posix_process.h"

namespace hcsshim::gcs {

struct RuncOptions {
  std::string runcPath = "runc";
  std::string root = "/run/gcs/runc";  // runc --root
  bool noPivot = false;                // an initramfs root cannot pivot_root
};

class RuncRuntime final : public ContainerRuntime {
 public:
  RuncRuntime(runtime::EpollEventLoop& loop, runtime::PosixProcessRunner& runner, RuncOptions options)
      : loop_(loop), runner_(runner), options_(std::move(options)) {}

  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> create(std::string id, std::string bundle,
                                                                     StdioSpec stdio) override;
  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> run(std::string id, std::string bundle,
                                                                  StdioSpec stdio) override;
  runtime::Task<Status> start(std::string id) override;
  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> exec(std::string id, Json ociProcess,
                                                                   StdioSpec stdio) override;
  runtime::Task<Status> update(std::string id, Json resources) override;
  runtime::Task<Status> remove(std::string id, bool force) override;
  runtime::Task<StatusOr<std::vector<int>>> pids(std::string id) override;
  bool exists(const std::string& id) const override { return bundles_.count(id) != 0; }

 private:
  struct Run {
    runtime::ExitStatus exit;
    std::string out;  // stdout when captured
    std::unique_ptr<runtime::Process> process;
    std::streamoff logOffset = 0;  // runc.log's size before the command
  };
  // runc runs one runc command; `capture` collects its stdout, otherwise
  // stdio follows `stdio` (pipes handed to the container).
  runtime::Task<StatusOr<Run>> runc(std::vector<std::string> args, std::string id, std::optional<StdioSpec> stdio,
                                    bool capture);
  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> launch(std::string id, std::vector<std::string> args,
                                                                     std::string pidFile, StdioSpec stdio);
  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> make(std::string id, std::string bundle, StdioSpec stdio,
                                                                   bool startNow);
  // command runs a runc subcommand that only succeeds or fails.
  runtime::Task<Status> command(std::vector<std::string> args, std::string id);
  Status runcError(const std::string& op, const std::string& id, const Run& r) const;

  runtime::EpollEventLoop& loop_;
  runtime::PosixProcessRunner& runner_;
  RuncOptions options_;
  std::map<std::string, std::string> bundles_;  // id -> bundle directory
  uint64_t execSeq_ = 0;
};

}  // namespace hcsshim::gcs
