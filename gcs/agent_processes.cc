// agent_processes.cc: processes - exec, wait, signal, resize, their stdio relays and exits, properties.
#include "gcs/agent_internal.h"
#include "src/common/bug_zoo.h"

namespace hcsshim::gcs {

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
  while (c->starting && !zoo::reintroduced(zoo::Bug::kRuncStateDeletedDuringStart)) co_await c->startDone.wait();
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
    // (A dimension of another type reads as absent: the host is not trusted.)
    auto dim = [&](const char* key) -> int64_t {
      auto it = cs.is_object() ? cs.find(key) : cs.end();
      return cs.is_object() && it != cs.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
    };
    if (dim("height") > 0 && dim("width") > 0 && dim("height") < 65536 && dim("width") < 65536) {
      stdio.rows = static_cast<uint16_t>(dim("height"));
      stdio.columns = static_cast<uint16_t>(dim("width"));
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

}  // namespace hcsshim::gcs
