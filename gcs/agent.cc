#include "gcs/agent.h"

#include <sys/mount.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gcs/metrics.h"
#include "src/common/log.h"

namespace hcsshim::gcs {

using runtime::Task;
using namespace bridge;
namespace hr = hresult;
namespace fs = std::filesystem;

namespace {

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

Status invalidArg(std::string message) { return Status::fromHResult(hr::kInvalidArg, "", "", std::move(message)); }
Status notFound(std::string message) { return Status::fromHResult(hr::kElementNotFound, "", "", std::move(message)); }

template <typename T>
StatusOr<T> decodeAs(std::string_view json, std::string_view field = "") {
  auto d = schema::decode<T>(json, std::string(field));
  if (!d.ok()) return invalidArg(d.status().message());
  return d;
}

Json field(const char* name, Json value) {
  Json j = Json::object();
  j[name] = std::move(value);
  return j;
}

bool validContainerId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return id != "." && id != "..";
}

}  // namespace

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

namespace {

using State = AgentState;
using StateP = std::shared_ptr<AgentState>;

// ---- stdio relays ----

// pump copies `from` to `to` until EOF; then ends `to` (a host stream gets
// its write side shut so the host reads EOF; a process's stdin is closed).
Task<void> pump(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, bool closeTo) {
  (void)co_await runtime::copyStream(*from, *to, 128 * 1024);
  if (closeTo) {
    (void)to->shutdownWrite();
    to->close();
  }
}

// ---- processes ----

// removeRuntimeState deletes the container's runc state once (concurrent
// callers wait for the first).
Task<Status> removeRuntimeState(StateP s, std::shared_ptr<Container> c) {
  while (c->starting) co_await c->startDone.wait();
  if (!c->runtimeRemoving) {
    c->runtimeRemoving = true;
    Status st;
    if (s->runtimes.exists(c->id)) st = co_await s->runtimes.remove(c->id, true);
    c->runtimeRemoved = st;
    c->runtimeRemovedChanged.notifyAll();
  }
  while (!c->runtimeRemoved) co_await c->runtimeRemovedChanged.wait();
  co_return *c->runtimeRemoved;
}

Task<void> watchExit(StateP s, std::shared_ptr<Proc> p) {
  runtime::ExitStatus st = co_await p->p->wait();
  p->exit = st;
  HLOG(Info, "gcs.process.exited").kv("container", p->containerId).kv("pid", p->pid).kv("exit_code", st.exitCode);
  p->exited.notifyAll();
  if (p->stdinConn) p->stdinConn->close();
  if (!p->isInit) co_return;
  auto c = s->containers.find(p->containerId);
  if (c == s->containers.end()) co_return;
  std::shared_ptr<Container> container = c->second;
  container->exitCode = st.exitCode;
  runtime::spawn([](StateP s, std::shared_ptr<Container> c) -> Task<void> {
    Status st = co_await removeRuntimeState(s, c);
    if (!st.ok()) HLOG(Warn, "gcs.container.runtime_delete_failed").kv("container", c->id).kv("error", st.message());
  }(s, container));
  ContainerNotification n;
  n.containerId = p->containerId;
  n.activityId = "00000000-0000-0000-0000-000000000000";
  n.type = container->exitType;
  n.operation = "None";
  n.result = st.exitCode;
  s->notify(n);
}

// startProcess wires stdio to the host's relay ports and starts watching it.
Task<StatusOr<uint32_t>> registerProcess(StateP s, std::string containerId, bool isInit,
                                         std::unique_ptr<ContainerProcess> proc, StdioRelaySettings relay,
                                         bool terminal) {
  std::shared_ptr<runtime::Stream> conns[3];
  std::optional<uint32_t> ports[3] = {relay.stdIn, relay.stdOut, relay.stdErr};
  for (int i = 0; i < 3; ++i) {
    if (!ports[i] || *ports[i] == 0) continue;
    auto c = co_await s->dialer.dial(*ports[i]);
    if (!c.ok()) {
      (void)proc->signal(SIGKILL);
      co_return c.status().withContext("ExecuteProcess", containerId);
    }
    conns[i] = std::move(*c);
  }
  auto p = std::make_shared<Proc>();
  p->pid = static_cast<uint32_t>(proc->pid());
  p->containerId = containerId;
  p->isInit = isInit;
  if (terminal) {
    std::shared_ptr<runtime::Stream> tty = proc->takeStdio(3);
    if (tty && conns[0]) runtime::spawn(pump(conns[0], tty, false));
    if (tty && conns[1]) runtime::spawn(pump(tty, conns[1], true));
  } else {
    for (int i = 0; i < 3; ++i) {
      std::shared_ptr<runtime::Stream> mine = proc->takeStdio(i);
      if (!mine || !conns[i]) continue;
      if (i == 0) {
        runtime::spawn(pump(conns[0], mine, true));
      } else {
        runtime::spawn(pump(mine, conns[i], true));
      }
    }
  }
  p->stdinConn = conns[0];
  p->p = std::move(proc);
  s->procs[p->pid] = p;
  runtime::spawn(watchExit(s, p));
  co_return p->pid;
}

StatusOr<std::shared_ptr<Container>> findContainer(State& s, const std::string& id) {
  auto it = s.containers.find(id);
  if (it == s.containers.end()) {
    return Status::fromHResult(hr::kHcsSystemNotFound, "", id, "container " + id + " does not exist");
  }
  return it->second;
}

StatusOr<std::shared_ptr<Proc>> findProcess(State& s, uint32_t pid) {
  auto it = s.procs.find(pid);
  if (it == s.procs.end()) return notFound("process " + std::to_string(pid) + " does not exist");
  return it->second;
}

// ---- handlers: each returns the response's own fields ----

using Result = StatusOr<Json>;

Result negotiate(State&, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<NegotiateProtocolRequest>(payload));
  if (req.minimumVersion > kProtocolVersion || req.maximumVersion < kProtocolVersion) {
    return Status::fromHResult(hr::kVmcomputeUnsupportedProtocolVersion, "", "",
                               "the guest speaks protocol version 4, the host asked for " +
                                   std::to_string(req.minimumVersion) + ".." + std::to_string(req.maximumVersion));
  }
  NegotiateProtocolResponse r;
  r.version = kProtocolVersion;
  r.capabilities.sendHostCreateMessage = false;
  r.capabilities.sendHostStartMessage = false;
  r.capabilities.hvSocketConfigOnStartup = false;
  r.capabilities.supportedSchemaVersions = {schema::Version{2, 1, {}}};
  r.capabilities.runtimeOsType = "Linux";
  r.capabilities.guestDefinedCapabilities = GuestDefinedCapabilities{true, true, true, true, {}};
  Json j = schema::encode(r);
  return Json{{"Version", j["Version"]}, {"Capabilities", j["Capabilities"]}};
}

Result createContainer(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<CreateContainerRequest>(payload));
  const std::string& id = req.containerId;
  if (!validContainerId(id)) return invalidArg("ContainerId: \"" + id + "\" is not a valid container id");
  HCS_ASSIGN_OR_RETURN(auto config, decodeAs<ContainerConfig>(req.containerConfig, "ContainerConfig"));
  if (s.containers.count(id)) {
    return Status::fromHResult(hr::kHcsSystemAlreadyExists, "", id, "container " + id + " already exists");
  }
  Json& spec = config.ociSpecification;
  if (!spec.is_object()) return invalidArg("ContainerConfig.OciSpecification: want an OCI runtime spec object");
  if (!spec.contains("root") || !spec["root"].is_object() || !spec["root"].contains("path") ||
      !spec["root"]["path"].is_string()) {
    return invalidArg("ContainerConfig.OciSpecification.root.path: required");
  }
  HCS_ASSIGN_OR_RETURN(std::string root,
                       s.paths.check(spec["root"]["path"].get<std::string>(), "OciSpecification.root.path"));
  spec["root"]["path"] = root;
  if (!spec.contains("process") || !spec["process"].is_object()) {
    return invalidArg("ContainerConfig.OciSpecification.process: required");
  }
  // Our own cgroup path, so metrics know where to look and nothing lands
  // in a parent's cgroup.
  if (!spec.contains("linux") || !spec["linux"].is_object()) spec["linux"] = Json::object();
  spec["linux"]["cgroupsPath"] = s.options.cgroupParent + "/gcs/" + id;
  // The HCN namespace the host put the container in (hcsshim sends it as
  // windows.network.networkNamespace): join its network namespace, use its DNS.
  const Json* nsid = nullptr;
  if (spec.contains("windows") && spec["windows"].is_object() && spec["windows"].contains("network") &&
      spec["windows"]["network"].is_object() && spec["windows"]["network"].contains("networkNamespace")) {
    nsid = &spec["windows"]["network"]["networkNamespace"];
  }
  if (nsid && (!nsid->is_string() || nsid->get<std::string>().empty())) {
    return invalidArg("ContainerConfig.OciSpecification.windows.network.networkNamespace: want a namespace id");
  }
  if (nsid) {
    if (!s.network) {
      return Status::fromHResult(hr::kNotImpl, "", id, "this guest has no network support (networkNamespace requested)");
    }
    std::string ns = nsid->get<std::string>();
    HCS_ASSIGN_OR_RETURN(std::string path, s.network->namespacePath(ns));
    Json& namespaces = spec["linux"]["namespaces"];
    if (!namespaces.is_array()) namespaces = Json::array();
    bool found = false;
    for (auto& n : namespaces) {
      if (n.is_object() && n.value("type", "") == "network") {
        n["path"] = path;
        found = true;
      }
    }
    if (!found) namespaces.push_back(Json{{"type", "network"}, {"path", path}});
    std::string resolv = s.network->resolvConf(ns);
    if (!resolv.empty()) {
      if (!spec["mounts"].is_array()) spec["mounts"] = Json::array();
      spec["mounts"].push_back(Json{{"destination", "/etc/resolv.conf"}, {"type", "bind"}, {"source", resolv},
                                    {"options", Json::array({"rbind", "ro"})}});
    }
  }
  auto c = std::make_shared<Container>();
  c->id = id;
  c->bundle = s.options.stateDir + "/c/" + id;
  std::error_code ec;
  fs::create_directories(c->bundle, ec);
  if (ec) return Status::fromHResult(hr::kFail, "", id, "creating " + c->bundle + ": " + ec.message());
  c->spec = spec;
  std::ofstream(c->bundle + "/config.json") << jsonText(spec);
  s.containers[id] = c;
  HLOG(Info, "gcs.container.created").kv("container", id).kv("root", root);
  return Json::object();
}

Result startContainer(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  HCS_ASSIGN_OR_RETURN(auto c, findContainer(s, req.containerId));
  c->started = true;
  return Json::object();
}

Task<Result> executeProcess(StateP s, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto req, decodeAs<ExecuteProcessRequest>(payload));
  HCS_CO_ASSIGN_OR_RETURN(auto params, decodeAs<ProcessParameters>(req.settings.processParameters, "ProcessParameters"));
  StdioRelaySettings relay = req.settings.vsockStdioRelaySettings.value_or(StdioRelaySettings{});
  StdioSpec stdio;
  stdio.in = relay.stdIn.value_or(0) != 0;
  stdio.out = relay.stdOut.value_or(0) != 0;
  stdio.err = relay.stdErr.value_or(0) != 0;
  stdio.terminal = params.emulateConsole.value_or(false);
  // The console's size: the HCS parameters', else the OCI process's own.
  if (params.consoleSize.size() == 2 && params.consoleSize[0] && params.consoleSize[1]) {
    stdio.rows = params.consoleSize[0];
    stdio.columns = params.consoleSize[1];
  } else if (params.ociProcess.is_object() && params.ociProcess.contains("consoleSize")) {
    const Json& cs = params.ociProcess["consoleSize"];
    if (cs.is_object() && cs.value("height", 0) > 0 && cs.value("width", 0) > 0 && cs.value("height", 0) < 65536 &&
        cs.value("width", 0) < 65536) {
      stdio.rows = static_cast<uint16_t>(cs.value("height", 24));
      stdio.columns = static_cast<uint16_t>(cs.value("width", 80));
    }
  }
  const std::string& cid = req.containerId;
  bool inUvm = cid == kUvmContainerId || params.createInUtilityVm.value_or(false);
  if (inUvm) {
    std::vector<std::string> args = params.commandArgs;
    if (args.empty() && params.commandLine && !params.commandLine->empty()) args = {"/bin/sh", "-c", *params.commandLine};
    if (args.empty()) co_return invalidArg("ProcessParameters: CommandArgs or CommandLine is required");
    runtime::ProcessSpec spec{.path = args[0], .args = args};
    if (!params.environment.empty()) spec.env = params.environment;
    spec.cwd = params.workingDirectory.value_or("");
    auto mode = [](bool want) { return want ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull; };
    spec.stdinMode = mode(stdio.in);
    spec.stdoutMode = mode(stdio.out);
    spec.stderrMode = mode(stdio.err);
    spec.terminal = stdio.terminal;
    spec.terminalRows = stdio.rows;
    spec.terminalColumns = stdio.columns;
    spec.killOnParentDeath = false;
    auto p = s->rt.processes().spawn(spec);
    if (!p.ok()) co_return Status::fromHResult(hr::kFail, "", cid, p.status().message());
    std::string uvm(kUvmContainerId);
    std::unique_ptr<ContainerProcess> proc = std::make_unique<UvmProcess>(std::move(*p));
    auto pid = co_await registerProcess(s, uvm, false, std::move(proc), relay, stdio.terminal);
    if (!pid.ok()) co_return pid.status();
    co_return field("ProcessId", *pid);
  }
  HCS_CO_ASSIGN_OR_RETURN(auto c, findContainer(*s, cid));
  if (c->exitCode) {
    co_return Status::fromHResult(hr::kHcsInvalidState, "", cid, "container " + cid + " has exited");
  }
  if (!c->init) {
    // The first process is the container's init: runc create, relays, runc start.
    if (params.ociProcess.is_object()) c->spec["process"] = params.ociProcess;
    c->spec["process"]["terminal"] = stdio.terminal;
    if (stdio.terminal) c->spec["process"]["consoleSize"] = Json{{"height", stdio.rows}, {"width", stdio.columns}};
    std::ofstream(c->bundle + "/config.json") << jsonText(c->spec);
    // With no stdin, nothing is lost by letting the init run before its
    // output relays are connected (the pipes hold it): one runc invocation
    // instead of two. With stdin, it must not run before the host can type.
    bool runNow = !stdio.in;
    // (No co_await inside ?: - GCC 12 miscompiles it.)
    StatusOr<std::unique_ptr<ContainerProcess>> created = NotFoundError("");
    if (runNow) {
      created = co_await s->runtimes.run(cid, c->bundle, stdio);
    } else {
      created = co_await s->runtimes.create(cid, c->bundle, stdio);
    }
    if (!created.ok()) co_return created.status();
    auto pid = co_await registerProcess(s, cid, true, std::move(*created), relay, stdio.terminal);
    if (!pid.ok()) {
      (void)co_await s->runtimes.remove(cid, true);
      co_return pid.status();
    }
    c->init = s->procs[*pid];
    if (!runNow) {
      c->starting = true;
      Status started = co_await s->runtimes.start(cid);
      c->starting = false;
      c->startDone.notifyAll();
      if (!started.ok()) co_return started;
    }
    HLOG(Info, "gcs.container.started").kv("container", cid).kv("pid", *pid);
    co_return field("ProcessId", *pid);
  }
  if (!params.ociProcess.is_object()) {
    co_return invalidArg("ProcessParameters.OciProcess: required to run a process in a running container");
  }
  auto execd = co_await s->runtimes.exec(cid, params.ociProcess, stdio);
  if (!execd.ok()) co_return execd.status();
  auto pid = co_await registerProcess(s, cid, false, std::move(*execd), relay, stdio.terminal);
  if (!pid.ok()) co_return pid.status();
  co_return field("ProcessId", *pid);
}

Task<Result> waitForProcess(StateP s, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto req, decodeAs<WaitForProcessRequest>(payload));
  HCS_CO_ASSIGN_OR_RETURN(auto p, findProcess(*s, req.processId));
  if (!p->exit && req.timeoutInMs != WaitForProcessRequest::kInfinite) {
    bool timedOut = false;
    auto timer = s->rt.loop().addTimer(std::chrono::milliseconds(req.timeoutInMs), [p, &timedOut] {
      timedOut = true;
      p->exited.notifyAll();
    });
    while (!p->exit && !timedOut) co_await p->exited.wait();
    s->rt.loop().cancelTimer(timer);
    if (!p->exit) {
      co_return Status::fromHResult(hr::kVmcomputeTimeout, "", req.containerId,
                                    "process " + std::to_string(req.processId) + " did not exit in " +
                                        std::to_string(req.timeoutInMs) + " ms");
    }
  }
  while (!p->exit) co_await p->exited.wait();
  if (p->containerId == kUvmContainerId) s->procs.erase(p->pid);  // nothing else will ask for it
  co_return field("ExitCode", static_cast<uint32_t>(p->exit->exitCode));
}

Result signalProcess(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<SignalProcessRequest>(payload));
  HCS_ASSIGN_OR_RETURN(auto p, findProcess(s, req.processId));
  int sig = req.options ? req.options->signal.value_or(0) : 0;
  if (sig == 0) sig = SIGKILL;
  if (sig < 1 || sig > 64) return invalidArg("Options.Signal: " + std::to_string(sig) + " is not a signal number");
  if (p->exit) return notFound("process " + std::to_string(p->pid) + " has exited");
  HCS_RETURN_IF_ERROR(p->p->signal(sig));
  return Json::object();
}

Result resizeConsole(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<ResizeConsoleRequest>(payload));
  HCS_ASSIGN_OR_RETURN(auto p, findProcess(s, req.processId));
  if (p->exit) return notFound("process " + std::to_string(p->pid) + " has exited");
  // 0x0 is a size like any other: a terminal that reports none (ctr -t
  // under a pipe) sends it, and runc's shim applies it as is.
  Status st = p->p->resize(req.height, req.width);
  if (!st.ok()) return invalidArg(st.message());
  return Json::object();
}

Task<Result> getProperties(StateP s, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto req, decodeAs<GetPropertiesRequest>(payload));
  schema::PropertyQuery q;
  if (!req.query.empty()) {
    HCS_CO_ASSIGN_OR_RETURN(q, decodeAs<schema::PropertyQuery>(req.query, "Query"));
  }
  GuestProperties props;
  const std::string& cid = req.containerId;
  std::shared_ptr<Container> c;
  if (cid != kUvmContainerId) {
    HCS_CO_ASSIGN_OR_RETURN(c, findContainer(*s, cid));
  }
  for (const auto& t : q.propertyTypes) {
    if (t == "ProcessList") {
      std::vector<int> pids;
      if (!c) {
        for (auto& [pid, p] : s->procs) {
          if (p->containerId == kUvmContainerId && !p->exit) pids.push_back(static_cast<int>(pid));
        }
      } else if (c->init && !c->exitCode) {
        auto ps = co_await s->runtimes.pids(cid);
        if (!ps.ok()) co_return ps.status();
        pids = *ps;
      }
      for (int pid : pids) {
        schema::ProcessDetails d;
        d.processId = static_cast<uint32_t>(pid);
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::string name;
        if (std::getline(comm, name)) d.imageName = name;
        props.processList.push_back(std::move(d));
      }
    } else if (t == "Statistics") {
      if (!c) co_return Status::fromHResult(hr::kNotImpl, "", cid, "Statistics of the utility VM itself are not collected");
      auto m = cgroupMetrics(s->options.cgroupRoot, s->options.cgroupParent + "/gcs/" + cid);
      if (!m.ok()) {
        co_return Status::fromHResult(hr::kHcsInvalidState, "", cid, "no metrics: " + m.status().message());
      }
      props.lcowMetrics = std::move(*m);
    } else {
      co_return Status::fromHResult(hr::kNotImpl, "", cid, "property type \"" + t + "\" is not supported by the guest");
    }
  }
  co_return field("Properties", jsonText(schema::encode(props)));
}

Status mkdirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::fromHResult(hr::kFail, "", "", "mkdir " + path + ": " + ec.message());
  return OkStatus();
}

Result modifyCombinedLayers(State& s, const ModifyRequest& r) {
  HCS_ASSIGN_OR_RETURN(auto cl, decodeAs<CombinedLayers>(jsonText(r.settings), "Request.Settings"));
  HCS_ASSIGN_OR_RETURN(std::string root, s.paths.check(cl.containerRootPath, "Settings.ContainerRootPath"));
  if (r.requestType == "Remove") {
    if (!s.overlays.count(root)) return notFound("no combined layers are mounted at " + root);
    HCS_RETURN_IF_ERROR(s.mounter.unmount(root));
    s.overlays.erase(root);
    ::rmdir(root.c_str());
    return Json::object();
  }
  if (r.requestType != "Add") return invalidArg("Request.RequestType: CombinedLayers takes Add or Remove");
  if (cl.layers.empty()) return invalidArg("Settings.Layers: at least one layer is required");
  if (s.overlays.count(root)) {
    return Status::fromHResult(hr::kAlreadyExists, "", "", "combined layers are already mounted at " + root);
  }
  std::vector<std::string> layers;
  for (size_t i = 0; i < cl.layers.size(); ++i) {
    std::string field = "Settings.Layers[" + std::to_string(i) + "].Path";
    HCS_ASSIGN_OR_RETURN(std::string l, s.paths.check(cl.layers[i].path, field));
    if (l.find_first_of(":,") != std::string::npos) return invalidArg(field + ": \"" + l + "\" contains ':' or ','");
    if (!fs::is_directory(l)) return notFound(field + ": " + l + " is not a directory");
    layers.push_back(l);
  }
  std::string scratch;
  if (cl.scratchPath && !cl.scratchPath->empty()) {
    HCS_ASSIGN_OR_RETURN(scratch, s.paths.check(*cl.scratchPath, "Settings.ScratchPath"));
    if (scratch.find_first_of(":,") != std::string::npos) return invalidArg("Settings.ScratchPath: contains ':' or ','");
    HCS_RETURN_IF_ERROR(mkdirs(scratchUpperDir(scratch)));
    HCS_RETURN_IF_ERROR(mkdirs(scratch + "/work"));
  }
  HCS_RETURN_IF_ERROR(mkdirs(root));
  // overlay needs two lower layers when there is no upper: a single
  // read-only layer is a read-only bind instead.
  if (scratch.empty() && layers.size() == 1) {
    HCS_RETURN_IF_ERROR(s.mounter.mount(layers[0], root, "", MS_BIND, ""));
    (void)s.mounter.mount("", root, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "");
  } else {
    HCS_RETURN_IF_ERROR(s.mounter.mount("overlay", root, "overlay", scratch.empty() ? MS_RDONLY : 0,
                                        overlayOptions(layers, scratch)));
  }
  s.overlays[root] = cl.containerId.value_or("");
  return Json::object();
}

Result modifyMappedDirectory(State& s, const ModifyRequest& r) {
  HCS_ASSIGN_OR_RETURN(auto md, decodeAs<MappedDirectory>(jsonText(r.settings), "Request.Settings"));
  HCS_ASSIGN_OR_RETURN(std::string target, s.paths.check(md.mountPath, "Settings.MountPath"));
  if (r.requestType == "Remove") {
    if (!s.mounts.count(target)) return notFound("no directory is mapped at " + target);
    HCS_RETURN_IF_ERROR(s.mounter.unmount(target));
    s.mounts.erase(target);
    ::rmdir(target.c_str());  // the mount point we made
    return Json::object();
  }
  if (r.requestType != "Add") return invalidArg("Request.RequestType: MappedDirectory takes Add or Remove");
  if (s.mounts.count(target)) return Status::fromHResult(hr::kAlreadyExists, "", "", "a directory is mapped at " + target);
  std::string share = md.shareName.value_or("");
  if (share.empty() || share.find_first_of("/,") != std::string::npos || share == "." || share == "..") {
    return invalidArg("Settings.ShareName: \"" + share + "\" is not a share name");
  }
  if (s.options.plan9Root.empty()) {
    // In a VM: the host serves the share over 9p on a vsock port.
    if (!md.port || *md.port == 0) return invalidArg("Settings.Port: the Plan9 server's vsock port is required");
    HCS_RETURN_IF_ERROR(mkdirs(target));
    Status st = s.mounter.mount9p(*md.port, share, target, md.readOnly.value_or(false));
    if (!st.ok()) return Status::fromHResult(hr::kFail, "", "", st.message());
    s.mounts.insert(target);
    return Json::object();
  }
  std::string source = s.options.plan9Root + "/" + share;
  if (!fs::is_directory(source)) return notFound("Settings.ShareName: no share named " + share);
  HCS_RETURN_IF_ERROR(mkdirs(target));
  HCS_RETURN_IF_ERROR(s.mounter.mount(source, target, "", MS_BIND, ""));
  if (md.readOnly.value_or(false)) {
    Status ro = s.mounter.mount("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "");
    if (!ro.ok()) {
      (void)s.mounter.unmount(target);
      return ro;
    }
  }
  s.mounts.insert(target);
  return Json::object();
}

// scsiDevice finds the disk at controller/lun.
StatusOr<std::string> scsiDevice(State& s, uint32_t controller, uint32_t lun) {
  if (controller > 3) return invalidArg("Settings.Controller: " + std::to_string(controller) + " is not 0..3");
  if (lun > 63) return invalidArg("Settings.Lun: " + std::to_string(lun) + " is not 0..63");
  if (!s.options.scsiRoot.empty()) {
    std::string p = s.options.scsiRoot + "/" + std::to_string(controller) + "/" + std::to_string(lun);
    if (!fs::exists(p)) return notFound("no disk at SCSI controller " + std::to_string(controller) + " LUN " + std::to_string(lun));
    return p;
  }
  // In a VM: /sys/bus/scsi/devices/H:0:0:L/block/<dev>, controllers in host order.
  std::map<int, std::string> byHost;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/bus/scsi/devices", ec)) {
    int h, c, t, l;
    if (std::sscanf(e.path().filename().c_str(), "%d:%d:%d:%d", &h, &c, &t, &l) != 4) continue;
    if (c != 0 || t != 0 || l != static_cast<int>(lun)) continue;
    for (const auto& b : fs::directory_iterator(e.path() / "block", ec)) byHost[h] = "/dev/" + b.path().filename().string();
  }
  if (controller >= byHost.size()) {
    return notFound("no disk at SCSI controller " + std::to_string(controller) + " LUN " + std::to_string(lun));
  }
  return std::next(byHost.begin(), controller)->second;
}

Result modifyDisk(State& s, const ModifyRequest& r, bool pmem) {
  std::string image, mountPath, fstype = "ext4";
  bool readOnly = true;
  uint64_t offset = 0, size = 0;
  if (pmem) {
    HCS_ASSIGN_OR_RETURN(auto d, decodeAs<VPMemDevice>(jsonText(r.settings), "Request.Settings"));
    mountPath = d.mountPath;
    if (r.requestType == "Add") {
      if (d.deviceNumber >= 128) return invalidArg("Settings.DeviceNumber: " + std::to_string(d.deviceNumber) + " is not 0..127");
      image = s.options.pmemRoot.empty() ? "/dev/pmem" + std::to_string(d.deviceNumber)
                                         : s.options.pmemRoot + "/" + std::to_string(d.deviceNumber);
      if (!fs::exists(image)) return notFound("no VPMem device " + std::to_string(d.deviceNumber));
      if (d.mappingInfo) {
        offset = d.mappingInfo->deviceOffsetInBytes;
        size = d.mappingInfo->deviceSizeInBytes;
      }
    }
  } else {
    HCS_ASSIGN_OR_RETURN(auto d, decodeAs<MappedVirtualDisk>(jsonText(r.settings), "Request.Settings"));
    mountPath = d.mountPath;
    if (r.requestType == "Add") {
      if (d.encrypted.value_or(false)) {
        return Status::fromHResult(hr::kNotImpl, "", "", "Settings.Encrypted: encrypted scratch disks are not implemented");
      }
      if (d.partition.value_or(0) != 0) {
        return Status::fromHResult(hr::kNotImpl, "", "", "Settings.Partition: partitions are not implemented");
      }
      if (!d.options.empty()) {
        return Status::fromHResult(hr::kNotImpl, "", "", "Settings.Options: mount options are not implemented");
      }
      HCS_ASSIGN_OR_RETURN(image, scsiDevice(s, d.controller, d.lun));
      readOnly = d.readOnly.value_or(false);
      if (d.filesystem && !d.filesystem->empty()) fstype = *d.filesystem;
      if (fstype != "ext4" && fstype != "xfs" && fstype != "vfat" && fstype != "ext2" && fstype != "ext3") {
        return invalidArg("Settings.Filesystem: \"" + fstype + "\" is not a supported filesystem");
      }
    }
  }
  HCS_ASSIGN_OR_RETURN(std::string target, s.paths.check(mountPath, "Settings.MountPath"));
  if (r.requestType == "Remove") {
    if (!s.mounts.count(target)) return notFound("nothing is mounted at " + target);
    HCS_RETURN_IF_ERROR(s.mounter.unmount(target));
    s.mounts.erase(target);
    ::rmdir(target.c_str());  // the mount point we made
    return Json::object();
  }
  if (r.requestType != "Add") return invalidArg("Request.RequestType: " + r.resourceType + " takes Add or Remove");
  if (s.mounts.count(target)) return Status::fromHResult(hr::kAlreadyExists, "", "", "a disk is mounted at " + target);
  HCS_RETURN_IF_ERROR(mkdirs(target));
  Status st = s.mounter.mountImage(image, target, fstype, readOnly, offset, size);
  if (!st.ok()) return Status::fromHResult(hr::kFail, "", "", st.message());
  s.mounts.insert(target);
  return Json::object();
}

Result modifySettings(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<ModifySettingsRequest>(payload));
  const ModifyRequest& r = req.request;
  if (r.requestType != "Add" && r.requestType != "Remove" && r.requestType != "Update") {
    return invalidArg("Request.RequestType: want Add, Remove or Update, got \"" + r.requestType + "\"");
  }
  if (r.resourceType == resource::kCombinedLayers) return modifyCombinedLayers(s, r);
  if (r.resourceType == resource::kMappedDirectory) return modifyMappedDirectory(s, r);
  if (r.resourceType == resource::kMappedVirtualDisk) return modifyDisk(s, r, false);
  if (r.resourceType == resource::kVPMemDevice) return modifyDisk(s, r, true);
  if (r.resourceType == resource::kScsiDevice) {
    // Unplugging: in simulation the disk simply goes; in a VM the kernel is
    // told to delete the device first.
    if (r.requestType != "Remove") return invalidArg("Request.RequestType: SCSIDevice takes Remove");
    HCS_ASSIGN_OR_RETURN(auto d, decodeAs<MappedVirtualDisk>(jsonText(r.settings), "Request.Settings"));
    HCS_ASSIGN_OR_RETURN(std::string dev, scsiDevice(s, d.controller, d.lun));
    if (s.options.scsiRoot.empty()) {
      std::ofstream del("/sys/class/block/" + fs::path(dev).filename().string() + "/device/delete");
      del << "1\n";
    }
    return Json::object();
  }
  if (r.resourceType == resource::kVPciDevice) {
    return Status::fromHResult(hr::kNotImpl, "", req.containerId,
                               "resource type " + r.resourceType + " is not implemented in this guest yet");
  }
  return invalidArg("Request.ResourceType: unknown resource type \"" + r.resourceType + "\"");
}

// modifyNetwork: an endpoint's NIC into (Add) or out of (Remove) its namespace.
Task<Result> modifyNetwork(StateP s, ModifyRequest r) {
  if (!s->network) co_return Status::fromHResult(hr::kNotImpl, "", "", "this guest has no network support");
  if (r.requestType != "Add" && r.requestType != "Remove") {
    co_return invalidArg("Request.RequestType: Network takes Add or Remove, got \"" + r.requestType + "\"");
  }
  auto a = decodeAs<LcowNetworkAdapter>(jsonText(r.settings), "Request.Settings");
  if (!a.ok()) co_return a.status();
  // (No co_await inside ?: - GCC 12 miscompiles it.)
  Status st;
  if (r.requestType == "Add") {
    st = co_await s->network->addAdapter(*a);
  } else {
    st = co_await s->network->removeAdapter(a->namespaceId, a->id);
  }
  if (!st.ok()) co_return st;
  co_return Json::object();
}

Task<Result> modifySettingsAsync(StateP s, std::string payload) {
  auto req = decodeAs<ModifySettingsRequest>(payload);
  if (req.ok() && req->request.resourceType == resource::kNetwork) co_return co_await modifyNetwork(s, req->request);
  co_return modifySettings(*s, payload);
}

Result shutdownContainer(State& s, const std::string& payload, bool forced) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  if (req.containerId == kUvmContainerId) {
    // The utility VM itself: the agent stops (after this response) and takes
    // every container down with it; as PID 1 it then powers the VM off.
    s.shutdownRequested = true;
    return Json::object();
  }
  HCS_ASSIGN_OR_RETURN(auto c, findContainer(s, req.containerId));
  if (c->exitCode) return Json::object();  // already down
  c->exitType = forced ? "ForcedExit" : "GracefulExit";
  if (!c->init) {
    // Never ran: it is down now.
    c->exitCode = 0;
    ContainerNotification n;
    n.containerId = c->id;
    n.activityId = req.activityId;
    n.type = c->exitType;
    n.operation = "None";
    s.notify(n);
    return Json::object();
  }
  HCS_RETURN_IF_ERROR(c->init->p->signal(forced ? SIGKILL : SIGTERM));
  return Json::object();
}

Task<Status> removeContainer(StateP s, std::shared_ptr<Container> c) {
  Status st = co_await removeRuntimeState(s, c);
  for (auto it = s->overlays.begin(); it != s->overlays.end();) {
    if (it->second == c->id && s->mounter.unmount(it->first).ok()) {
      it = s->overlays.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = s->procs.begin(); it != s->procs.end();) {
    it = it->second->containerId == c->id ? s->procs.erase(it) : std::next(it);
  }
  std::error_code ec;
  fs::remove_all(c->bundle, ec);
  s->containers.erase(c->id);
  HLOG(Info, "gcs.container.deleted").kv("container", c->id);
  co_return st;
}

Task<Result> deleteContainerState(StateP s, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  HCS_CO_ASSIGN_OR_RETURN(auto c, findContainer(*s, req.containerId));
  if (c->init && !c->init->exit) {
    co_return Status::fromHResult(hr::kHcsInvalidState, "", c->id, "container " + c->id + " is still running");
  }
  HCS_CO_RETURN_IF_ERROR(co_await removeContainer(s, c));
  co_return Json::object();
}

Task<Result> updateContainer(StateP s, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  HCS_CO_ASSIGN_OR_RETURN(auto c, findContainer(*s, req.containerId));
  auto doc = parseJson(payload);
  if (!doc.ok() || !(*doc)["Resources"].is_object()) co_return invalidArg("Resources: want an OCI LinuxResources object");
  if (!c->init || c->exitCode) {
    co_return Status::fromHResult(hr::kHcsInvalidState, "", c->id, "container " + c->id + " is not running");
  }
  Status st = co_await s->runtimes.update(c->id, (*doc)["Resources"]);
  if (!st.ok()) co_return Status::fromHResult(hr::kFail, "", c->id, st.message());
  co_return Json::object();
}

Result dumpStacks(State& s) {
  std::ostringstream out;
  out << "gcs: " << s.containers.size() << " containers, " << s.procs.size() << " processes, "
      << s.overlays.size() << " layer mounts, " << s.mounts.size() << " other mounts\n";
  for (auto& [id, c] : s.containers) {
    out << "container " << id << " started=" << c->started << " init=" << (c->init ? c->init->pid : 0)
        << " exit=" << (c->exitCode ? std::to_string(*c->exitCode) : "-") << "\n";
  }
  for (auto& [pid, p] : s.procs) {
    out << "process " << pid << " container=" << p->containerId
        << " exit=" << (p->exit ? std::to_string(p->exit->exitCode) : "-") << "\n";
  }
  return field("GuestStacks", out.str());
}

Task<Result> dispatch(StateP s, uint32_t type, std::string payload) {
  switch (type) {
    case msg::kNegotiateProtocol: co_return negotiate(*s, payload);
    case msg::kCreate: co_return createContainer(*s, payload);
    case msg::kStart: co_return startContainer(*s, payload);
    case msg::kShutdownGraceful: co_return shutdownContainer(*s, payload, false);
    case msg::kShutdownForced: co_return shutdownContainer(*s, payload, true);
    case msg::kExecuteProcess: co_return co_await executeProcess(s, payload);
    case msg::kWaitForProcess: co_return co_await waitForProcess(s, payload);
    case msg::kSignalProcess: co_return signalProcess(*s, payload);
    case msg::kResizeConsole: co_return resizeConsole(*s, payload);
    case msg::kGetProperties: co_return co_await getProperties(s, payload);
    case msg::kModifySettings: co_return co_await modifySettingsAsync(s, payload);
    case msg::kDumpStacks: co_return dumpStacks(*s);
    case msg::kDeleteContainerState: co_return co_await deleteContainerState(s, payload);
    case msg::kUpdateContainer: co_return co_await updateContainer(s, payload);
    default:
      co_return Status::fromHResult(hr::kNotImpl, "", "", "message type " + typeName(type) + " is not supported");
  }
}

Task<void> handle(StateP s, std::shared_ptr<Connection> conn, Frame f) {
  const uint32_t type = f.header.type;
  Json response = Json::object();
  Result r = Json::object();
  std::string activityId;
  std::string containerId;
  auto parsed = parseJson(f.payload);
  if (!parsed.ok() || !parsed->is_object()) {
    r = invalidArg(parsed.ok() ? "the request is not a JSON object" : "invalid JSON: " + parsed.status().message());
  } else {
    if ((*parsed)["ActivityId"].is_string()) activityId = (*parsed)["ActivityId"].get<std::string>();
    if ((*parsed)["ContainerId"].is_string()) containerId = (*parsed)["ContainerId"].get<std::string>();
    try {
      r = co_await dispatch(s, type, std::move(f.payload));
    } catch (const std::exception& e) {
      r = Status::fromHResult(hr::kFail, "", containerId, std::string("internal error: ") + e.what());
    }
  }
  ResponseBase base;
  base.activityId = activityId;
  if (r.ok()) {
    response = std::move(*r);
  } else {
    fillResponse(base, r.status());
    HLOG(Info, "gcs.request.failed").kv("type", typeName(type)).kv("id", f.header.id).kv("container", containerId)
        .hex("hresult", base.result < 0 ? static_cast<uint32_t>(base.result) : 0u)
        .kv("error", r.status().message());
  }
  Json b = schema::encode(base);
  for (auto& [k, v] : b.items()) response[k] = v;
  if (!response.contains("Result")) response["Result"] = 0;
  std::string text = jsonText(response);
  Status sent = conn->send(responseTypeOf(type), f.header.id, text);
  if (!sent.ok() && sent.code() == Code::kResourceExhausted) {
    // Too big for one message (a huge process list): say so instead.
    ResponseBase tooBig;
    tooBig.activityId = activityId;
    fillResponse(tooBig, Status::fromHResult(hr::kFail, "", containerId, sent.message()));
    (void)conn->send(responseTypeOf(type), f.header.id, jsonText(schema::encode(tooBig)));
  }
  if (s->shutdownRequested && !s->stopping) {
    HLOG(Info, "gcs.shutdown_requested").kv("forced", type == msg::kShutdownForced);
    (void)co_await conn->drained();
    s->stopping = true;
    conn->close();
  }
}

// pauseBeforeRedial waits redialInterval, or less if the agent is stopped
// meanwhile (a VM shutting down must not wait out the redial pause).
Task<void> pauseBeforeRedial(StateP s) {
  bool woke = false;
  auto timer = s->rt.loop().addTimer(s->options.redialInterval, [&woke, s] {
    woke = true;
    s->stopped.notifyAll();
  });
  while (!woke && !s->stopping) co_await s->stopped.wait();
  s->rt.loop().cancelTimer(timer);
}

Task<void> serve(StateP s, std::shared_ptr<Connection> conn) {
  for (;;) {
    auto f = co_await conn->recv();
    if (!f.ok()) {
      if (!runtime::isCleanEof(f.status())) {
        HLOG(Warn, "gcs.bridge.dropped").kv("error", f.status().message());
      }
      break;
    }
    if (kindOf(f->header.type) != Kind::kRequest) {
      HLOG(Warn, "gcs.bridge.unexpected").kv("type", typeName(f->header.type)).kv("id", f->header.id);
      continue;
    }
    HLOG(Debug, "gcs.request").kv("type", typeName(f->header.type)).kv("id", f->header.id);
    runtime::spawn(handle(s, conn, std::move(*f)));
  }
  conn->close();
}

}  // namespace

Agent::Agent(runtime::Runtime& rt, HostDialer& dialer, ContainerRuntime& containers, Mounter& mounter,
             AgentOptions options, NetworkManager* network)
    : s_(std::make_shared<AgentState>(rt, dialer, containers, mounter, std::move(options))) {
  s_->network = network;
}

Agent::~Agent() { stop(); }

void Agent::stop() {
  // Closing the bridge resumes the serve loop inline, which may end run()
  // and the agent's owner with it: hold what is still touched here.
  std::shared_ptr<AgentState> s = s_;
  if (s->stopping) return;
  s->stopping = true;
  if (auto conn = s->conn) conn->close();
  s->stopped.notifyAll();
}

size_t Agent::connections() const { return s_->connections; }
bool Agent::shutdownRequested() const { return s_->shutdownRequested; }
bool Agent::failed() const { return s_->failed; }
size_t Agent::containerCount() const { return s_->containers.size(); }
size_t Agent::processCount() const { return s_->procs.size(); }

Task<void> Agent::run() {
  StateP s = s_;
  std::string bridge = s->dialer.describe(kBridgePort);
  while (!s->stopping) {
    auto stream = co_await s->dialer.dial(kBridgePort);
    if (!stream.ok()) {
      HLOG(Debug, "gcs.bridge.dial_failed").kv("address", bridge).kv("error", stream.status().message());
      co_await pauseBeforeRedial(s);
      continue;
    }
    ++s->connections;
    s->conn = std::make_shared<Connection>(std::move(*stream));
    HLOG(Info, "gcs.bridge.connected").kv("address", bridge).kv("connection", s->connections);
    auto queued = std::move(s->queuedNotifications);
    s->queuedNotifications.clear();
    for (auto& n : queued) (void)s->conn->send(msg::kContainerNotification, 0, n);
    co_await serve(s, s->conn);
    s->conn.reset();
    if (!s->stopping && s->options.exitOnBridgeEof) {
      HLOG(Error, "gcs.bridge.eof").kv("address", bridge).kv("error", "the host hung up the bridge; exiting");
      s->failed = true;
      s->stopping = true;
      break;
    }
    if (!s->stopping) co_await pauseBeforeRedial(s);
  }
  // Leave nothing behind: kill and delete every container, undo mounts.
  for (auto& [id, c] : std::map(s->containers)) {
    if (c->init && !c->init->exit) {
      (void)c->init->p->signal(SIGKILL);
      while (!c->init->exit) co_await c->init->exited.wait();
    }
    (void)co_await removeContainer(s, c);
  }
  for (auto& [root, id] : std::map(s->overlays)) (void)s->mounter.unmount(root);
  s->overlays.clear();
  for (auto& m : std::set(s->mounts)) (void)s->mounter.unmount(m);
  s->mounts.clear();
  for (auto& [pid, p] : std::map(s->procs)) {
    if (!p->exit) (void)p->p->signal(SIGKILL);
  }
  removeEmptyCgroup(s->options.cgroupRoot, s->options.cgroupParent + "/gcs");
  HLOG(Info, "gcs.stopped").kv("connections", s->connections);
}

}  // namespace hcsshim::gcs
