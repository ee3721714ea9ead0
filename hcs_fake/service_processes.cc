// service_processes.cc: processes (create, signal, terminate, modify, their stdio and exits) and properties.
#include "hcs_fake/service_internal.h"

namespace hcsshim::hcs_fake {

Task<StatusOr<std::string>> FakeHcsService::properties(std::shared_ptr<SystemRecord> s, std::string query) {
  const char* op = "GetProperties";
  schema::PropertyQuery q;
  if (!query.empty()) {
    auto d = schema::decode<schema::PropertyQuery>(std::string_view(query));
    if (!d.ok()) co_return invalidJson(d.status(), op, s->id);
    q = std::move(*d);
  }
  for (size_t i = 0; i < q.propertyTypes.size(); ++i) {
    if (!knownPropertyTypes().count(q.propertyTypes[i])) {
      co_return hcsError(hr::kHcsInvalidJson, op, s->id,
                         "PropertyTypes[" + std::to_string(i) + "]: unknown property type \"" + q.propertyTypes[i] + "\"");
    }
  }
  co_await settle();
  schema::Properties p;
  p.id = s->id;
  p.systemType = s->systemType;
  p.runtimeOsType = "Linux";
  p.owner = s->doc.owner.value_or("");
  p.runtimeId = s->runtimeId;
  p.state = stateName(s->state);
  if (s->doc.hostingSystemId) p.hostingSystemId = *s->doc.hostingSystemId;
  if (s->state == SystemState::kStopped) {
    p.stopped = true;
    p.exitType = s->exitType;
  }
  for (const auto& t : q.propertyTypes) {
    if (t == "ProcessList") {
      for (auto& [pid, pr] : s->processes) {
        if (pr->exit) continue;
        schema::ProcessDetails d;
        d.processId = pid;
        d.imageName = pr->imageName;
        d.createTimestamp = log::formatTime(pr->createdWallNanos);
        ProcStat st = readProcStat(static_cast<int>(pid));
        if (st.ok) {
          d.userTime100ns = st.user100ns;
          d.kernelTime100ns = st.kernel100ns;
          d.memoryWorkingSetPrivateBytes = st.rssBytes;
        }
        p.processList.push_back(std::move(d));
      }
    } else if (t == "Statistics") {
      schema::Statistics st;
      st.timestamp = log::formatTime(rt_.loop().clock().wallNanos());
      if (s->startWallNanos) {
        st.containerStartTime = log::formatTime(s->startWallNanos);
        st.uptime100ns = static_cast<uint64_t>((rt_.loop().now() - s->startMono).count() / 100);
      }
      schema::ProcessorStats cpu{0, 0, 0, {}};
      schema::MemoryStats mem{0, 0, 0, {}};
      for (auto& [pid, pr] : s->processes) {
        if (pr->exit) continue;
        ProcStat ps = readProcStat(static_cast<int>(pid));
        if (!ps.ok) continue;
        *cpu.runtimeUser100ns += ps.user100ns;
        *cpu.runtimeKernel100ns += ps.kernel100ns;
        *mem.memoryUsagePrivateWorkingSetBytes += ps.rssBytes;
      }
      cpu.totalRuntime100ns = *cpu.runtimeUser100ns + *cpu.runtimeKernel100ns;
      mem.memoryUsageCommitBytes = *mem.memoryUsagePrivateWorkingSetBytes;
      mem.memoryUsageCommitPeakBytes = *mem.memoryUsagePrivateWorkingSetBytes;
      st.processor = cpu;
      st.memory = mem;
      p.statistics = st;
    } else if (t == "TerminateOnLastHandleClosed") {
      p.terminateOnLastHandleClosed = s->terminateOnLastHandleClosed;
    } else if (t == "SystemGUID") {
      p.systemGuid = s->runtimeId;
    } else if (t == schema::kConfigurationPropertyType) {
      // Fake extension: the system's document as it stands now, every
      // Modify (hot-added devices, shares, sizes) applied.
      p.configuration = schema::encode(s->doc);
    } else {
      co_return hcsError(hr::kNotImpl, op, s->id, "property type \"" + t + "\" is not implemented by the fake HCS");
    }
  }
  co_return jsonText(schema::encode(p));
}


Task<StatusOr<hcs::CreatedProcess>> FakeHcsService::createProcess(std::shared_ptr<SystemRecord> s, std::string parameters,
                                                                  std::shared_ptr<ProcessRecord>* record) {
  const char* op = "CreateProcess";
  auto params = schema::decode<schema::ProcessParameters>(std::string_view(parameters));
  if (!params.ok()) co_return invalidJson(params.status(), op, s->id);
  HCS_CO_RETURN_IF_ERROR(checkState(*s, op, {SystemState::kRunning}));
  if (s->systemType == "VirtualMachine") {
    // The guest runs it; the service keeps the record and the notifications.
    auto created = co_await vm_->createProcess(s->id, *params);
    if (!created.ok()) co_return created.status().withContext(op, s->id);
    auto p = std::make_shared<ProcessRecord>();
    p->system = s;
    p->systemId = s->id;
    p->pid = created->pid;
    p->imageName = params->commandArgs.empty() ? "" : params->commandArgs[0].substr(params->commandArgs[0].rfind('/') + 1);
    p->createdWallNanos = rt_.loop().clock().wallNanos();
    p->console = params->emulateConsole.value_or(false);
    s->processes[p->pid] = p;
    *record = p;
    co_return std::move(*created);
  }
  std::vector<std::string> args = params->commandArgs;
  if (args.empty() && params->commandLine && !params->commandLine->empty()) {
    args = {"/bin/sh", "-c", *params->commandLine};
  }
  if (args.empty()) co_return hcsError(hr::kInvalidArg, op, s->id, "CommandLine or CommandArgs is required");
  bool console = params->emulateConsole.value_or(false);
  if (!params->consoleSize.empty() && params->consoleSize.size() != 2) {
    co_return hcsError(hr::kInvalidArg, op, s->id, "ConsoleSize: want [height, width]");
  }
  runtime::ProcessSpec spec;
  spec.path = args[0];
  spec.args = args;
  std::map<std::string, std::string> env = params->environment;
  if (!env.count("PATH")) env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  spec.env = env;
  spec.cwd = params->workingDirectory.value_or("");
  spec.stdinMode = params->createStdInPipe.value_or(false) ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull;
  spec.stdoutMode = params->createStdOutPipe.value_or(false) ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull;
  spec.stderrMode = params->createStdErrPipe.value_or(false) ? runtime::StdioMode::kPipe : runtime::StdioMode::kNull;
  spec.newSession = true;
  spec.cgroups = s->cgroups;  // a pause freezes it and everything it starts
  if (s->init) spec.joinNamespacesOf = s->init->pid();
  if (console) {
    // One terminal: stdin and stdout are its two directions; stderr joins stdout.
    spec.terminal = true;
    if (params->consoleSize.size() == 2) {
      spec.terminalRows = params->consoleSize[0];
      spec.terminalColumns = params->consoleSize[1];
    }
  }
  co_await settle();
  if (s->state != SystemState::kRunning) co_return checkState(*s, op, {SystemState::kRunning});
  auto proc = rt_.processes().spawn(spec);
  if (!proc.ok()) {
    HResult code = proc.status().code() == Code::kNotFound ? hr::kFileNotFound : hr::kFail;
    co_return hcsError(code, op, s->id, "cannot start " + args[0] + ": " + proc.status().message());
  }
  auto p = std::make_shared<ProcessRecord>();
  p->system = s;
  p->systemId = s->id;
  p->pid = static_cast<uint32_t>((*proc)->pid());
  p->imageName = args[0].substr(args[0].rfind('/') + 1);
  p->createdWallNanos = rt_.loop().clock().wallNanos();
  p->consoleSize = params->consoleSize;
  p->console = console;
  p->proc = std::move(*proc);
  hcs::CreatedProcess out;
  out.pid = p->pid;
  std::unique_ptr<runtime::Stream>* outs[3] = {&out.stdinStream, &out.stdoutStream, &out.stderrStream};
  if (console) {
    auto end = std::make_shared<SharedStream::End>();
    end->stream = std::shared_ptr<runtime::Stream>(p->proc->takeStdio(3));
    if (params->createStdInPipe.value_or(false)) {
      p->stdio[0] = end->stream;
      out.stdinStream = std::make_unique<SharedStream>(end);
    }
    if (params->createStdOutPipe.value_or(false)) {
      p->stdio[1] = end->stream;
      out.stdoutStream = std::make_unique<SharedStream>(end);
    }
    if (end->handles == 0) end->stream->close();  // nobody wants the terminal
  } else {
    for (int i = 0; i < 3; ++i) {
      auto taken = p->proc->takeStdio(i);
      if (!taken) continue;
      auto end = std::make_shared<SharedStream::End>();
      end->stream = std::shared_ptr<runtime::Stream>(std::move(taken));
      p->stdio[i] = end->stream;
      *outs[i] = std::make_unique<SharedStream>(end);
    }
  }
  s->processes[p->pid] = p;
  HLOG(Info, "hcs_fake.process.created").kv("id", s->id).kv("pid", p->pid).kv("image", p->imageName);
  runtime::spawn(watchProcess(p));
  *record = p;
  co_return out;
}

Task<void> FakeHcsService::watchProcess(std::shared_ptr<ProcessRecord> p) {
  runtime::ExitStatus st = co_await p->proc->wait();
  processExited(p, st);
}

void FakeHcsService::processExited(const std::shared_ptr<ProcessRecord>& p, runtime::ExitStatus st) {
  if (p->exit) return;
  p->exit = st;
  HLOG(Info, "hcs_fake.process.exited").kv("id", p->systemId).kv("pid", p->pid).kv("exit_code", st.exitCode);
  schema::ProcessStatus ps;
  ps.processId = p->pid;
  ps.exited = true;
  ps.exitCode = static_cast<uint32_t>(st.exitCode);
  hcs::Event e{hcs::EventType::kProcessExited, jsonText(schema::encode(ps))};
  for (auto& [key, cb] : p->callbacks) {
    if (!cb) continue;
    deliver(toOpenHandle(p, key, e));
  }
}

Status FakeHcsService::deliverSignal(const std::shared_ptr<ProcessRecord>& p, int sig, const char* op) {
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  if (p->exit) return hcsError(hr::kHcsProcessAlreadyStopped, op, id, "the process has exited");
  if (!p->proc) return OkStatus();  // a guest process: the caller asks the backend
  Status st = p->proc->signal(sig);
  if (!st.ok()) return hcsError(hr::kHcsProcessAlreadyStopped, op, id, st.message());
  return OkStatus();
}

StatusOr<std::shared_ptr<ProcessRecord>> FakeHcsService::findProcess(const std::shared_ptr<SystemRecord>& s,
                                                                     uint32_t pid) const {
  auto it = s->processes.find(pid);
  if (it == s->processes.end()) {
    return hcsError(hr::kElementNotFound, "OpenProcess", s->id, "no process " + std::to_string(pid));
  }
  return it->second;
}

Task<Status> FakeHcsService::signalProcess(std::shared_ptr<ProcessRecord> p, std::string options) {
  const char* op = "SignalProcess";
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  auto j = parseJson(options);
  if (!j.ok()) co_return invalidJson(j.status(), op, id);
  int sig = 0;
  if (!j->is_object() || !j->contains("Signal")) co_return hcsError(hr::kHcsInvalidJson, op, id, "Signal is required");
  const Json& v = (*j)["Signal"];
  if (v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    if (n <= 0 || n > 64) co_return hcsError(hr::kInvalidArg, op, id, "Signal: " + std::to_string(n) + " is not a signal number");
    sig = static_cast<int>(n);
  } else if (v.is_string()) {
    static const std::map<std::string, int> kCtrl = {{"CtrlC", SIGINT}, {"CtrlBreak", SIGQUIT}, {"CtrlClose", SIGHUP},
                                                     {"CtrlLogOff", SIGTERM}, {"CtrlShutdown", SIGTERM}};
    auto it = kCtrl.find(v.get<std::string>());
    if (it == kCtrl.end()) co_return hcsError(hr::kInvalidArg, op, id, "Signal: unknown \"" + v.get<std::string>() + "\"");
    sig = it->second;
  } else {
    co_return hcsError(hr::kHcsInvalidJson, op, id, "Signal: want integer or string, got " + jsonTypeName(v));
  }
  co_await settle();
  HCS_CO_RETURN_IF_ERROR(deliverSignal(p, sig, op));
  if (!p->proc) co_return (co_await vm_->signalProcess(p->systemId, p->pid, sig)).withContext(op, id);
  co_return OkStatus();
}

Task<Status> FakeHcsService::terminateProcess(std::shared_ptr<ProcessRecord> p) {
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  co_await settle();
  HCS_CO_RETURN_IF_ERROR(deliverSignal(p, SIGKILL, "TerminateProcess"));
  if (!p->proc) co_return (co_await vm_->signalProcess(p->systemId, p->pid, SIGKILL)).withContext("TerminateProcess", id);
  co_return OkStatus();
}

Task<StatusOr<std::string>> FakeHcsService::processProperties(std::shared_ptr<ProcessRecord> p) {
  co_await settle();
  schema::ProcessStatus ps;
  ps.processId = p->pid;
  ps.exited = p->exit.has_value();
  // Until exit HCS reports the exit code as -1 (0xFFFFFFFF).
  ps.exitCode = p->exit ? static_cast<uint32_t>(p->exit->exitCode) : 0xFFFFFFFFu;
  ps.lastWaitResult = 0;
  co_return jsonText(schema::encode(ps));
}

Task<Status> FakeHcsService::modifyProcess(std::shared_ptr<ProcessRecord> p, std::string settings) {
  const char* op = "ModifyProcess";
  std::string id = p->systemId + "/" + std::to_string(p->pid);
  auto j = parseJson(settings);
  if (!j.ok()) co_return invalidJson(j.status(), op, id);
  auto operation = jsonField<std::string>(*j, "Operation");
  if (!operation.ok()) co_return invalidJson(operation.status(), op, id);
  co_await settle();
  if (*operation == "ConsoleSize") {
    if (!j->contains("ConsoleSize")) co_return hcsError(hr::kHcsInvalidJson, op, id, "ConsoleSize is required");
    auto h = jsonField<uint16_t>((*j)["ConsoleSize"], "Height");
    auto w = jsonField<uint16_t>((*j)["ConsoleSize"], "Width");
    if (!h.ok()) co_return invalidJson(h.status(), op, id);
    if (!w.ok()) co_return invalidJson(w.status(), op, id);
    if (!p->console) co_return hcsError(hr::kInvalidHandle, op, id, "the process has no console");
    if (p->exit) co_return hcsError(hr::kHcsProcessAlreadyStopped, op, id, "the process has exited");
    if (!p->proc) co_return hcsError(hr::kNotImpl, op, id, "resizing a guest console is not implemented yet");
    Status st = p->proc->resizeTerminal(*h, *w);
    if (!st.ok()) co_return hcsError(hr::kFail, op, id, st.message());
    p->consoleSize = {*h, *w};
    co_return OkStatus();
  }
  if (*operation == "CloseHandle") {
    if (!j->contains("CloseHandle")) co_return hcsError(hr::kHcsInvalidJson, op, id, "CloseHandle is required");
    auto handle = jsonField<std::string>((*j)["CloseHandle"], "Handle");
    if (!handle.ok()) co_return invalidJson(handle.status(), op, id);
    int which = *handle == "StdIn" ? 0 : *handle == "StdOut" ? 1 : *handle == "StdErr" ? 2 : *handle == "All" ? 3 : -1;
    if (which < 0) co_return hcsError(hr::kInvalidArg, op, id, "CloseHandle.Handle: unknown \"" + *handle + "\"");
    for (int i = 0; i < 3; ++i) {
      if ((which == i || which == 3) && p->stdio[i]) {
        if (i == 0) {
          (void)p->stdio[i]->shutdownWrite();
        } else {
          p->stdio[i]->close();
        }
      }
    }
    co_return OkStatus();
  }
  co_return hcsError(hr::kInvalidArg, op, id, "Operation: unknown \"" + *operation + "\"");
}

}  // namespace hcsshim::hcs_fake
