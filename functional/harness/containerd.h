// containerd.h: a private instance of Debian's real containerd for tests.
//
// Starts `containerd` with its own temporary root, state, opt and sockets
// (the CRI plugin disabled unless asked for), waits until its gRPC and ttrpc
// sockets accept, runs `ctr` against it, and stops it, leaving nothing behind.
//
//   auto ctd = co_await ContainerdInstance::start(rt, {});
//   auto events = (*ctd)->ctr({"events"}, /*pipeStdout=*/true);
//   ... (*ctd)->ttrpcAddress() ...
//   co_await (*ctd)->stop();
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/runtime.h"

namespace hcsshim::functional {

struct ContainerdOptions {
  bool enableCri = false;
  std::string logLevel = "warn";
  // startTimeout bounds the wait for the sockets to accept connections.
  runtime::Duration startTimeout = std::chrono::seconds(20);
  // env is added to containerd's environment (its shims inherit it);
  // pathPrepend goes in front of PATH (where containerd finds shims).
  std::map<std::string, std::string> env;
  std::string pathPrepend;
  // extraConfig is appended to config.toml (the CRI plugin's tables, say).
  std::string extraConfig;
};

class ContainerdInstance {
 public:
  static runtime::Task<StatusOr<std::unique_ptr<ContainerdInstance>>> start(runtime::Runtime& rt,
                                                                            ContainerdOptions options);
  ~ContainerdInstance();

  const std::string& dir() const { return dir_; }
  std::string grpcAddress() const { return dir_ + "/c.sock"; }
  // ttrpcAddress is where containerd serves shims: the gRPC address + ".ttrpc".
  std::string ttrpcAddress() const { return grpcAddress() + ".ttrpc"; }
  std::string logPath() const { return dir_ + "/containerd.log"; }

  // ctr runs `ctr --address <grpc> args...`.
  StatusOr<std::unique_ptr<runtime::Process>> ctr(const std::vector<std::string>& args, bool pipeStdout);
  // ctrOutput runs ctr to the end: (exit code, stdout + stderr).
  runtime::Task<std::pair<int, std::string>> ctrOutput(std::vector<std::string> args, std::string input = "");

  // stop terminates containerd (SIGTERM, then SIGKILL after 10 s) and removes its directory.
  runtime::Task<Status> stop();
  // restart stops containerd (keeping its root and state) and starts it
  // again on the same directory - shims keep running meanwhile.
  runtime::Task<Status> restart();

  // binaryAvailable tells whether containerd and ctr are installed.
  static bool binaryAvailable();

 private:
  ContainerdInstance(runtime::Runtime& rt, std::string dir) : rt_(rt), dir_(std::move(dir)) {}
  runtime::Task<Status> launch();
  runtime::Runtime& rt_;
  ContainerdOptions options_;
  std::string dir_;
  std::unique_ptr<runtime::Process> process_;
};

}  // namespace hcsshim::functional
