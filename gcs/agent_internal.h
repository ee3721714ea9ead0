// agent_internal.h: the guest agent's state and the handlers' shared
// helpers - internal to gcs/agent*.cc. The bridge loop and dispatch are in
// agent.cc; the handlers by concern: agent_containers.cc (create, start,
// shutdown, delete, update, properties, stacks), agent_processes.cc (exec,
// wait, signal, resize, stdio relays, exits), agent_storage.cc (modify
// settings: layers, shares, disks, network).
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gcs/agent.h"
#include "gcs/devices.h"
#include "gcs/metrics.h"
#include "src/bridge/messages.h"
#include "src/bridge/protocol.h"
#include "src/common/log.h"

namespace hcsshim::gcs {

using runtime::Task;
using namespace bridge;
namespace hr = hresult;
namespace fs = std::filesystem;

// A process of the utility VM itself (not in a container).
class UvmProcess final : public ContainerProcess {
 public:
  explicit UvmProcess(std::unique_ptr<runtime::Process> p) : p_(std::move(p)) {}
  int pid() const override { return p_->pid(); }
  Task<runtime::ExitStatus> wait() override { return p_->wait(); }
  std::optional<runtime::ExitStatus> exitStatus() const override { return p_->exitStatus(); }
  Status signal(int sig) override { return p_->signal(sig); }
  Status resize(uint16_t rows, uint16_t columns) override { return p_->resizeTerminal(rows, columns); }
  std::unique_ptr<runtime::Stream> takeStdio(int fd) override { return p_->takeStdio(fd); }

 private:
  std::unique_ptr<runtime::Process> p_;
};

inline Status invalidArg(std::string message) { return Status::fromHResult(hr::kInvalidArg, "", "", std::move(message)); }
inline Status notFound(std::string message) { return Status::fromHResult(hr::kElementNotFound, "", "", std::move(message)); }

template <typename T>
StatusOr<T> decodeAs(std::string_view json, std::string_view field = "") {
  auto d = schema::decode<T>(json, std::string(field));
  if (!d.ok()) return invalidArg(d.status().message());
  return d;
}

inline Json field(const char* name, Json value) {
  Json j = Json::object();
  j[name] = std::move(value);
  return j;
}

inline bool validContainerId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return id != "." && id != "..";
}


struct Proc {
  uint32_t pid = 0;
  std::string containerId;
  bool isInit = false;
  std::unique_ptr<ContainerProcess> p;
  std::optional<runtime::ExitStatus> exit;
  runtime::WaitList exited;
  std::shared_ptr<runtime::Stream> stdinConn;  // closed once the process has exited
};

struct Container {
  std::string id;
  std::string bundle;
  Json spec;
  bool started = false;
  std::shared_ptr<Proc> init;
  std::optional<int> exitCode;
  std::string exitType = "UnexpectedExit";  // what the exit notification will say
  // The runtime's state goes as soon as the init has exited (nothing can run
  // in the container any more); DeleteContainerState waits for it.
  bool runtimeRemoving = false;
  std::optional<Status> runtimeRemoved;
  runtime::WaitList runtimeRemovedChanged;
  // `runc start` is running: a fast init may exit meanwhile, and deleting
  // the runtime state under `runc start` makes it fail (exec.fifo gone).
  bool starting = false;
  runtime::WaitList startDone;
};

struct AgentState {
  AgentState(runtime::Runtime& r, HostDialer& d, ContainerRuntime& c, Mounter& m, AgentOptions o)
      : rt(r), dialer(d), runtimes(c), mounter(m), options(std::move(o)), paths(options.mountRoots, options.fsRoot) {}
  runtime::Runtime& rt;
  HostDialer& dialer;
  ContainerRuntime& runtimes;
  Mounter& mounter;
  AgentOptions options;
  PathPolicy paths;
  NetworkManager* network = nullptr;  // null: Network requests answer E_NOTIMPL
  std::shared_ptr<Connection> conn;
  bool stopping = false;
  bool shutdownRequested = false;  // the host shut the UVM down
  bool failed = false;             // the bridge was lost (exitOnBridgeEof)
  size_t connections = 0;
  std::map<std::string, std::shared_ptr<Container>> containers;
  std::map<uint32_t, std::shared_ptr<Proc>> procs;
  std::vector<std::string> queuedNotifications;  // payloads, sent on the next connection
  std::map<std::string, std::string> overlays;    // container root path -> container id
  std::set<std::string> mounts;                   // other mounts we made (shares, disks)
  runtime::WaitList stopped;

  void notify(const ContainerNotification& n) {
    std::string payload = jsonText(schema::encode(n));
    if (conn && !conn->closed() && conn->send(msg::kContainerNotification, 0, payload).ok()) return;
    queuedNotifications.push_back(std::move(payload));
  }
};


using State = AgentState;
using StateP = std::shared_ptr<AgentState>;
// Result: a handler's response fields (or its error).
using Result = StatusOr<Json>;

// agent_processes.cc
Task<void> pump(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, bool closeTo);
Task<Status> removeRuntimeState(StateP s, std::shared_ptr<Container> c);
StatusOr<std::shared_ptr<Container>> findContainer(State& s, const std::string& id);
StatusOr<std::shared_ptr<Proc>> findProcess(State& s, uint32_t pid);
Task<Result> executeProcess(StateP s, std::string payload);
Task<Result> waitForProcess(StateP s, std::string payload);
Result signalProcess(State& s, const std::string& payload);
Result resizeConsole(State& s, const std::string& payload);
Task<Result> getProperties(StateP s, std::string payload);
// agent_containers.cc
Result createContainer(State& s, const std::string& payload);
Result startContainer(State& s, const std::string& payload);
Result shutdownContainer(State& s, const std::string& payload, bool forced);
Task<Status> removeContainer(StateP s, std::shared_ptr<Container> c);
Task<Result> deleteContainerState(StateP s, std::string payload);
Task<Result> updateContainer(StateP s, std::string payload);
Result dumpStacks(State& s);
// agent_storage.cc
Status mkdirs(const std::string& path);
Result modifySettings(State& s, const std::string& payload);
Task<Result> modifySettingsAsync(StateP s, std::string payload);

}  // namespace hcsshim::gcs
