// guest_connection.h: the host side of the bridge - talks to one utility VM's
// guest agent (GCS).
//
//   auto listener = vsock.listen(kBridgePort);
//   HCS_CO_ASSIGN_OR_RETURN(auto gc, co_await GuestConnection::accept(loop, **listener, vsock, vmId, {}));
//   HCS_CO_RETURN_IF_ERROR(co_await gc->createContainer(id, config));
//   HCS_CO_ASSIGN_OR_RETURN(auto p, co_await gc->executeProcess(id, params, {.out = true}));
//   std::string out = ...read p->stdoutStream() to EOF...;
//   int code = *(co_await p->wait());
//
// Requests run concurrently; responses may come in any order. Every request
// has a timeout (options); when it passes, or the connection is lost, every
// pending call fails with an error naming the VM, the request and the reason.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "src/bridge/messages.h"
#include "src/bridge/protocol.h"
#include "src/bridge/vsock.h"
#include "src/runtime/event_loop.h"
#include "src/runtime/task.h"

namespace hcsshim::bridge {

struct GuestConnectionOptions {
  // Per request (the facts: the host gives up after 5 minutes).
  runtime::Duration requestTimeout = std::chrono::minutes(5);
  // How long to wait for the guest's dial (bridge or stdio).
  runtime::Duration connectTimeout = std::chrono::seconds(30);
};

struct StdioRequest {
  bool in = false;
  bool out = false;
  bool err = false;
};

class GuestConnection;
struct ConnectionState;  // shared by a connection and its processes

// A process in the UVM or in one of its containers.
class GuestProcess {
 public:
  ~GuestProcess();
  uint32_t pid() const { return pid_; }
  const std::string& containerId() const { return containerId_; }
  // The relayed stdio (nullptr for streams not requested). Writes to stdin
  // reach the process; shutdownWrite/closeStdin gives it EOF.
  runtime::Stream* stdinStream() { return stdin_.get(); }
  runtime::Stream* stdoutStream() { return stdout_.get(); }
  runtime::Stream* stderrStream() { return stderr_.get(); }
  std::unique_ptr<runtime::Stream> takeStdio(int fd);
  Status closeStdin();
  // wait: the exit code (WaitForProcess, no timeout of its own beyond the
  // connection's request timeout unless `timeoutMs` is given).
  runtime::Task<StatusOr<uint32_t>> wait(uint32_t timeoutMs = WaitForProcessRequest::kInfinite);
  // signal: 0 = SIGKILL (the protocol's convention).
  runtime::Task<Status> signal(int sig);
  runtime::Task<Status> resizeConsole(uint16_t height, uint16_t width);

 private:
  friend class GuestConnection;
  GuestProcess(std::shared_ptr<ConnectionState> conn, std::string containerId, uint32_t pid)
      : conn_(std::move(conn)), containerId_(std::move(containerId)), pid_(pid) {}
  std::shared_ptr<ConnectionState> conn_;
  std::string containerId_;
  uint32_t pid_;
  std::unique_ptr<runtime::Stream> stdin_, stdout_, stderr_;
};

class GuestConnection {
 public:
  // accept waits (connectTimeout) for the guest to dial `bridgeListener`,
  // then negotiates protocol version 4.
  static runtime::Task<StatusOr<std::unique_ptr<GuestConnection>>> accept(runtime::EventLoop& loop,
                                                                          runtime::Listener& bridgeListener,
                                                                          VsockHost& vsock, std::string vmId,
                                                                          GuestConnectionOptions options = {});
  // over runs the protocol on an established bridge stream (negotiates first).
  static runtime::Task<StatusOr<std::unique_ptr<GuestConnection>>> over(runtime::EventLoop& loop,
                                                                        std::unique_ptr<runtime::Stream> stream,
                                                                        VsockHost& vsock, std::string vmId,
                                                                        GuestConnectionOptions options = {});
  ~GuestConnection();

  const std::string& vmId() const;
  const NegotiateProtocolResponse& negotiated() const;

  runtime::Task<Status> createContainer(std::string id, ContainerConfig config);
  runtime::Task<Status> startContainer(std::string id);
  runtime::Task<Status> shutdownContainer(std::string id, bool forced);
  runtime::Task<Status> deleteContainerState(std::string id);
  // updateContainer applies OCI LinuxResources (JSON) to a running container.
  runtime::Task<Status> updateContainer(std::string id, Json resources);
  // executeProcess: in container `containerId` (kUvmContainerId: in the UVM).
  runtime::Task<StatusOr<std::unique_ptr<GuestProcess>>> executeProcess(std::string containerId,
                                                                        ProcessParameters params,
                                                                        StdioRequest stdio);
  runtime::Task<Status> modifySettings(std::string containerId, ModifyRequest request);
  runtime::Task<StatusOr<GuestProperties>> getProperties(std::string containerId, schema::PropertyQuery query);
  runtime::Task<StatusOr<std::string>> dumpStacks();

  // waitForExit completes with the container's exit notification (Result is
  // its exit code), or with an error if the connection is lost first.
  runtime::Task<StatusOr<ContainerNotification>> waitForExit(std::string containerId);
  // onNotification sees every container notification as it arrives.
  void onNotification(std::function<void(const ContainerNotification&)> fn);

  // request sends one request of any type and returns the raw response
  // payload after checking Result (for tests and generic callers).
  runtime::Task<StatusOr<std::string>> request(uint32_t type, std::string containerId, Json payload);

  // closed / lost: the connection is gone (why, if it broke).
  bool closed() const;
  Status lostReason() const;
  void close();
  // expectClose: the VM is being shut down; the guest hanging up from now on
  // is the end of the connection, not its loss (logged as a close; calls
  // still pending fail as for any close).
  void expectClose();
  size_t pendingRequests() const;

 private:
  explicit GuestConnection(std::shared_ptr<ConnectionState> s) : s_(std::move(s)) {}
  std::shared_ptr<ConnectionState> s_;
};

}  // namespace hcsshim::bridge
