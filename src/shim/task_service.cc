#include "src/shim/task_service.h"

#include <malloc.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "platforms/linux/hybrid_vsock.h"
#include "src/common/log.h"
#include "src/containerd/api/cgroups_metrics.pb.h"
#include "src/containerd/api/events.pb.h"
#include "src/containerd/api/runhcs_options.pb.h"
#include "src/containerd/api/task.pb.h"
#include "src/hns/hcn.h"
#include "src/protobuf/wkt.pb.h"
#include "src/shim/shimdiag.pb.h"
#include "src/shim/stdio.h"
#include "src/uvm/uvm.h"

namespace hcsshim::shim {

using runtime::Task;
namespace fs = std::filesystem;
namespace task = containerd::task::v2;
namespace ev = containerd::events;
using hcsshim::protobuf::Empty;

constexpr const char* kService = "containerd.task.v2.Task";

std::string vmIdFor(const std::string& taskId) { return "runhcs-" + taskId; }

struct Proc {
  std::string execId;
  uint32_t pid = 0;
  bool started = false;
  std::optional<uint32_t> exitStatus;
  int64_t exitedAtNanos = 0;
  runtime::WaitList exited;
  std::string stdinPath, stdoutPath, stderrPath;
  bool terminal = false;
  Json ociProcess;  // execs
  std::unique_ptr<bridge::GuestProcess> gp;
  std::shared_ptr<runtime::Stream> stdinRelay;  // the guest's stdin (CloseIO)
  int outputRelays = 0;                          // stdout/stderr copies still running
  runtime::WaitList outputDrained;
};

struct TaskRecord {
  std::string id, bundle;
  Json spec;
  // The task's utility VM: its own, or its pod sandbox's (shared).
  std::shared_ptr<uvm::UtilityVM> vm;
  std::unique_ptr<uvm::Container> container;
  std::shared_ptr<Proc> init;
  std::map<std::string, std::shared_ptr<Proc>> execs;
  bool rootfsMounted = false;
  bool paused = false;
};

struct TaskState {
  TaskState(runtime::RealRuntime& r, hcs::HcsApi& h, Publisher& e, ShimConfig c)
      : rt(r), hcs(h), events(e), config(std::move(c)) {}
  runtime::RealRuntime& rt;
  hcs::HcsApi& hcs;
  Publisher& events;
  ShimConfig config;
  std::unique_ptr<hns::HnsApi> hns;  // connected on first use
  std::map<std::string, std::shared_ptr<TaskRecord>> tasks;
  bool done = false;
  runtime::WaitList doneChanged;
};

namespace {

using StateP = std::shared_ptr<TaskState>;

hcsshim::protobuf::Timestamp timestamp(int64_t nanos) {
  hcsshim::protobuf::Timestamp t;
  t.set_seconds(nanos / 1000000000);
  t.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return t;
}

StatusOr<std::shared_ptr<TaskRecord>> findTask(TaskState& s, const std::string& id) {
  auto it = s.tasks.find(id);
  if (it == s.tasks.end()) return NotFoundError("task " + id + " not found");
  return it->second;
}

StatusOr<std::shared_ptr<Proc>> findProc(TaskState& s, const std::string& id, const std::string& execId) {
  HCS_ASSIGN_OR_RETURN(auto t, findTask(s, id));
  if (execId.empty()) return t->init;
  auto it = t->execs.find(execId);
  if (it == t->execs.end()) return NotFoundError("exec " + execId + " of task " + id + " not found");
  return it->second;
}

// Runtime options and annotations -> VM options.
StatusOr<uvm::LcowOptions> vmOptions(TaskState& s, const task::CreateTaskRequest& req, const Json& spec) {
  uvm::LcowOptions o;
  o.id = vmIdFor(req.id());
  o.bootFilesPath = s.config.defaultBootFiles;
  o.memoryMB = 512;
  o.processors = 1;
  if (req.has_options() && !req.options().type_url().empty()) {
    const auto& any = req.options();
    if (any.type_url().find("containerd.runhcs.v1.Options") == std::string::npos) {
      return InvalidArgumentError("runtime options: want containerd.runhcs.v1.Options, got " + any.type_url());
    }
    containerd::runhcs::v1::Options opts;
    if (!opts.ParseFromString(any.value())) {
      return InvalidArgumentError("runtime options: containerd.runhcs.v1.Options does not decode");
    }
    if (opts.vm_memory_size_in_mb() < 0 || opts.vm_processor_count() < 0) {
      return InvalidArgumentError("runtime options: negative VM memory or processor count");
    }
    if (opts.vm_memory_size_in_mb() > 0) o.memoryMB = static_cast<uint64_t>(opts.vm_memory_size_in_mb());
    if (opts.vm_processor_count() > 0) o.processors = static_cast<uint32_t>(opts.vm_processor_count());
    if (!opts.boot_files_root_path().empty()) o.bootFilesPath = opts.boot_files_root_path();
  }
  // Annotations win over options (as in hcsshim).
  const Json annotations = spec.value("annotations", Json::object());
  auto number = [&](const char* key, uint64_t& out) -> Status {
    if (!annotations.contains(key)) return OkStatus();
    if (!annotations[key].is_string()) return InvalidArgumentError(std::string("annotation ") + key + ": want a string");
    const std::string v = annotations[key].get<std::string>();
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9) {
      return InvalidArgumentError(std::string("annotation ") + key + ": \"" + v + "\" is not a number");
    }
    out = std::stoull(v);
    return OkStatus();
  };
  uint64_t mem = o.memoryMB, cpus = o.processors;
  HCS_RETURN_IF_ERROR(number("io.microsoft.virtualmachine.computetopology.memory.sizeinmb", mem));
  HCS_RETURN_IF_ERROR(number("io.microsoft.virtualmachine.computetopology.processor.count", cpus));
  o.memoryMB = mem;
  o.processors = static_cast<uint32_t>(cpus);
  if (annotations.contains("io.microsoft.virtualmachine.lcow.bootfilesrootpath") &&
      annotations["io.microsoft.virtualmachine.lcow.bootfilesrootpath"].is_string()) {
    o.bootFilesPath = annotations["io.microsoft.virtualmachine.lcow.bootfilesrootpath"].get<std::string>();
  }
  return o;
}

// overlayLayers: containerd's usual rootfs - one overlay mount whose
// upperdir/workdir are <snapshot>/fs and <snapshot>/work - as (lower layers,
// top-most first; the snapshot directory). The VM then builds the same
// overlay itself from shared directories, and nothing is mounted on the host.
std::optional<std::pair<std::vector<std::string>, std::string>> overlayLayers(const task::CreateTaskRequest& req) {
  if (req.rootfs_size() != 1 || req.rootfs(0).type() != "overlay") return std::nullopt;
  std::vector<std::string> lower;
  std::string upper, work;
  for (const auto& opt : req.rootfs(0).options()) {
    if (opt.rfind("lowerdir=", 0) == 0) {
      std::string list = opt.substr(9);
      size_t start = 0;
      for (size_t i = 0; i <= list.size(); ++i) {
        if (i == list.size() || list[i] == ':') {
          if (i > start) lower.push_back(list.substr(start, i - start));
          start = i + 1;
        }
      }
    } else if (opt.rfind("upperdir=", 0) == 0) {
      upper = opt.substr(9);
    } else if (opt.rfind("workdir=", 0) == 0) {
      work = opt.substr(8);
    }
  }
  if (lower.empty() || upper.empty()) return std::nullopt;
  fs::path u(upper), w(work);
  if (u.filename() != "fs" || w.filename() != "work" || u.parent_path() != w.parent_path()) return std::nullopt;
  return std::make_pair(lower, u.parent_path().string());
}

Status mountRootfs(const task::CreateTaskRequest& req, const std::string& target) {
  for (const auto& m : req.rootfs()) {
    std::string data;
    unsigned long flags = 0;
    for (const auto& opt : m.options()) {
      if (opt == "ro") {
        flags |= MS_RDONLY;
      } else if (opt == "rbind") {
        flags |= MS_BIND | MS_REC;
      } else if (opt == "bind") {
        flags |= MS_BIND;
      } else {
        data += (data.empty() ? "" : ",") + opt;
      }
    }
    std::string type = m.type() == "bind" ? "" : m.type();
    if (::mount(m.source().c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) < 0) {
      return errnoStatus(errno, "mount " + m.type() + " rootfs", target);
    }
  }
  return OkStatus();
}

// ---- RPCs ----

// attachNetwork: a sandbox (or standalone task) whose spec names an HCN
// namespace (windows.network.networkNamespace) gets that namespace's
// endpoints in its utility VM, as hcsshim does for a pod; its containers
// join the namespace inside the VM through the same spec field.
Task<Status> attachNetwork(StateP s, uvm::UtilityVM& vm, Json spec) {
  const Json* ns = nullptr;
  if (spec.contains("windows") && spec["windows"].is_object() && spec["windows"].contains("network") &&
      spec["windows"]["network"].is_object() && spec["windows"]["network"].contains("networkNamespace")) {
    ns = &spec["windows"]["network"]["networkNamespace"];
  }
  if (!ns) co_return OkStatus();
  if (!ns->is_string() || ns->get<std::string>().empty()) {
    co_return InvalidArgumentError("spec windows.network.networkNamespace: want an HCN namespace id");
  }
  std::string nsid = ns->get<std::string>();
  if (!s->hns) {
    if (!s->config.connectHns) co_return FailedPreconditionError("network namespace " + nsid + " requested, but this shim has no HNS");
    auto api = co_await s->config.connectHns(s->rt);
    if (!api.ok()) co_return api.status();
    s->hns = std::move(*api);
  }
  hns::HcnClient hcn(*s->hns);
  auto n = co_await hcn.getNamespace(nsid);
  if (!n.ok()) co_return n.status();
  Json filter = Json::object();
  filter["HostComputeNamespace"] = nsid;
  auto endpoints = co_await hcn.listEndpoints(filter);
  if (!endpoints.ok()) co_return endpoints.status();
  for (auto& ep : *endpoints) {
    HCS_CO_RETURN_IF_ERROR(co_await vm.addNetworkEndpoint(ep, nsid));
    HLOG(Info, "shim.endpoint_attached").kv("namespace", nsid).kv("endpoint", ep.id.value_or(""));
  }
  co_return OkStatus();
}

Task<StatusOr<task::CreateTaskResponse>> doCreate(StateP s, task::CreateTaskRequest req) {
  if (s->tasks.count(req.id())) co_return AlreadyExistsError("task " + req.id() + " already exists");
  if (!req.checkpoint().empty()) co_return UnimplementedError("checkpoint/restore is not supported by runhcs");
  if (Status io = checkOutputUris(req.stdout(), req.stderr()); !io.ok()) co_return io;
  std::ifstream in(req.bundle() + "/config.json");
  std::stringstream text;
  text << in.rdbuf();
  auto spec = parseJson(text.str());
  if (!spec.ok()) co_return InvalidArgumentError("bundle config.json: " + spec.status().message());
  auto opts = vmOptions(*s, req, *spec);
  if (!opts.ok()) co_return opts.status();
  auto t = std::make_shared<TaskRecord>();
  t->id = req.id();
  t->bundle = req.bundle();
  t->spec = *spec;
  // containerd mounts a snapshot at <bundle>/rootfs; without mounts the
  // spec's root.path (relative to the bundle) is the root, as for runc.
  std::string rootfs = req.bundle() + "/rootfs";
  if (req.rootfs_size() == 0 && spec->contains("root") && (*spec)["root"].is_object() &&
      (*spec)["root"].value("path", "") != "") {
    std::string p = (*spec)["root"]["path"].get<std::string>();
    rootfs = p[0] == '/' ? p : req.bundle() + "/" + p;
  }
  auto layers = overlayLayers(req);
  if (req.rootfs_size() > 0 && !layers) {
    std::error_code ec;
    fs::create_directories(rootfs, ec);
    Status st = mountRootfs(req, rootfs);
    if (!st.ok()) co_return st;
    t->rootfsMounted = true;
  }
  auto cleanupRootfs = [&] {
    if (t->rootfsMounted) ::umount2(rootfs.c_str(), MNT_DETACH);
  };
  // A container of a pod (CRI annotations) runs in its sandbox's VM.
  std::shared_ptr<uvm::UtilityVM> vm;
  const Json annotations = spec->value("annotations", Json::object());
  if (annotations.value("io.kubernetes.cri.container-type", "") == "container" &&
      annotations.contains("io.kubernetes.cri.sandbox-id")) {
    std::string sandbox = annotations.value("io.kubernetes.cri.sandbox-id", "");
    auto it = s->tasks.find(sandbox);
    if (it == s->tasks.end() || !it->second->vm) {
      cleanupRootfs();
      co_return FailedPreconditionError("pod sandbox " + sandbox + " is not running in this shim");
    }
    vm = it->second->vm;
  } else {
    auto vsock = std::make_unique<platforms::HybridVsockHost>(s->rt.transport(),
                                                              platforms::hybridVsockPath(s->config.vsockRoot, opts->id));
    auto created = co_await uvm::UtilityVM::create(s->rt, s->hcs, std::move(vsock), *opts);
    if (!created.ok()) {
      cleanupRootfs();
      co_return created.status();
    }
    vm = std::shared_ptr<uvm::UtilityVM>(std::move(*created));
    Status booted = co_await vm->start();
    if (!booted.ok()) {
      (void)co_await vm->close();
      cleanupRootfs();
      co_return booted;
    }
  }
  bool ownVm = vm.use_count() == 1;
  if (ownVm) {
    Status net = co_await attachNetwork(s, *vm, *spec);
    if (!net.ok()) {
      (void)co_await vm->close();
      cleanupRootfs();
      co_return net;
    }
  }
  Json guestSpec = *spec;
  if (guestSpec.contains("linux") && guestSpec["linux"].is_object()) {
    guestSpec["linux"].erase("cgroupsPath");  // the guest agent places it
  }
  StatusOr<std::unique_ptr<uvm::Container>> c = NotFoundError("");
  if (layers) {
    c = co_await vm->createContainer(req.id(), layers->first, guestSpec, layers->second);
  } else {
    c = co_await vm->createContainerOnShare(req.id(), rootfs, guestSpec);
  }
  if (!c.ok()) {
    if (ownVm) (void)co_await vm->close();
    cleanupRootfs();
    co_return c.status();
  }
  t->vm = std::move(vm);
  t->container = std::move(*c);
  t->init = std::make_shared<Proc>();
  t->init->stdinPath = req.stdin();
  t->init->stdoutPath = req.stdout();
  t->init->stderrPath = req.stderr();
  t->init->terminal = req.terminal();
  s->tasks[req.id()] = t;
  ev::TaskCreate e;
  e.set_container_id(req.id());
  e.set_bundle(req.bundle());
  for (const auto& m : req.rootfs()) *e.add_rootfs() = m;
  e.mutable_io()->set_stdin(req.stdin());
  e.mutable_io()->set_stdout(req.stdout());
  e.mutable_io()->set_stderr(req.stderr());
  e.mutable_io()->set_terminal(req.terminal());
  s->events.publish("/tasks/create", e);
  task::CreateTaskResponse r;
  r.set_pid(0);  // the init runs at Start
  co_return r;
}

// watchExit records the exit and publishes the one TaskExit of the process.
Task<void> watchExit(StateP s, std::shared_ptr<TaskRecord> t, std::shared_ptr<Proc> p) {
  auto code = co_await p->gp->wait();
  // The exit can overtake the output (separate guest connections): let the
  // output relays finish first, for a bounded time (a process whose children
  // keep its stdout open must still be reported).
  if (p->outputRelays > 0) {
    bool late = false;
    auto timer = s->rt.loop().addTimer(std::chrono::seconds(5), [p, &late] {
      late = true;
      p->outputDrained.notifyAll();
    });
    while (p->outputRelays > 0 && !late) co_await p->outputDrained.wait();
    s->rt.loop().cancelTimer(timer);
  }
  p->exitStatus = code.ok() ? *code : 255u;
  p->exitedAtNanos = s->rt.loop().clock().wallNanos();
  ev::TaskExit e;
  e.set_container_id(t->id);
  e.set_id(p->execId.empty() ? t->id : p->execId);
  e.set_pid(p->pid);
  e.set_exit_status(*p->exitStatus);
  *e.mutable_exited_at() = timestamp(p->exitedAtNanos);
  s->events.publish("/tasks/exit", e);
  p->exited.notifyAll();
}

// outputRelay: a stdout/stderr copy the process's exit report waits for, so
// that everything the process wrote is in containerd's FIFO (or file, or
// logger) before anyone learns that it exited.
Task<void> outputRelay(std::shared_ptr<Proc> p, std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to) {
  ++p->outputRelays;
  co_await relay(std::move(from), std::move(to), true);
  if (--p->outputRelays == 0) p->outputDrained.notifyAll();
}

Task<Status> attachStdio(StateP s, std::string taskId, std::shared_ptr<Proc> p) {
  auto& loop = s->rt.epoll();
  if (isBinaryUri(p->stdoutPath)) {
    // containerd's binary logging: one logger takes stdout and stderr.
    BinaryLoggerOptions o;
    o.uri = p->stdoutPath;
    o.containerId = taskId;
    o.ns = s->config.ns;
    auto logger = co_await startBinaryLogger(loop, s->rt.processes(), o);
    if (!logger.ok()) co_return logger.status();
    if (p->gp->stdoutStream()) {
      std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(1)), to(std::move(logger->out));
      runtime::spawn(outputRelay(p, from, to));
    }
    if (!p->terminal && p->gp->stderrStream()) {
      std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(2)), to(std::move(logger->err));
      runtime::spawn(outputRelay(p, from, to));
    }
  }
  if (!isBinaryUri(p->stdoutPath) && !p->stdoutPath.empty() && p->gp->stdoutStream()) {
    auto out = co_await openOutput(loop, p->stdoutPath);
    if (!out.ok()) co_return out.status();
    std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(1)), to(std::move(*out));
    runtime::spawn(outputRelay(p, from, to));
  }
  if (!isBinaryUri(p->stdoutPath) && !p->terminal && !p->stderrPath.empty() && p->gp->stderrStream()) {
    auto err = co_await openOutput(loop, p->stderrPath);
    if (!err.ok()) co_return err.status();
    std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(2)), to(std::move(*err));
    runtime::spawn(outputRelay(p, from, to));
  }
  if (!p->stdinPath.empty() && p->gp->stdinStream()) {
    auto in = co_await openInput(loop, p->stdinPath);
    if (!in.ok()) co_return in.status();
    p->stdinRelay = p->gp->takeStdio(0);
    std::shared_ptr<runtime::Stream> from(std::move(*in));
    runtime::spawn(relay(from, p->stdinRelay, false));
  }
  co_return OkStatus();
}

Task<StatusOr<task::StartResponse>> doStart(StateP s, task::StartRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  if ((*p)->started) co_return FailedPreconditionError("process " + req.id() + "/" + req.exec_id() + " already started");
  bridge::StdioRequest stdio;
  stdio.in = !(*p)->stdinPath.empty();
  stdio.out = !(*p)->stdoutPath.empty();
  stdio.err = !(*p)->terminal && !(*p)->stderrPath.empty();
  StatusOr<std::unique_ptr<bridge::GuestProcess>> gp = NotFoundError("");
  if (req.exec_id().empty()) {
    bridge::ProcessParameters pp;
    pp.emulateConsole = (*p)->terminal;
    gp = co_await (*t)->container->start(pp, stdio);
  } else {
    if ((*t)->init->exitStatus) co_return FailedPreconditionError("task " + req.id() + " has exited");
    gp = co_await (*t)->container->exec((*p)->ociProcess, stdio, (*p)->terminal);
  }
  if (!gp.ok()) co_return gp.status();
  (*p)->gp = std::move(*gp);
  (*p)->pid = (*p)->gp->pid();
  (*p)->started = true;
  Status io = co_await attachStdio(s, req.id(), *p);
  if (!io.ok()) HLOG(Warn, "shim.stdio_failed").kv("task", req.id()).kv("error", io.toString());
  if (req.exec_id().empty()) {
    ev::TaskStart e;
    e.set_container_id(req.id());
    e.set_pid((*p)->pid);
    s->events.publish("/tasks/start", e);
  } else {
    ev::TaskExecStarted e;
    e.set_container_id(req.id());
    e.set_exec_id(req.exec_id());
    e.set_pid((*p)->pid);
    s->events.publish("/tasks/exec-started", e);
  }
  runtime::spawn(watchExit(s, *t, *p));
  // Booting a VM and creating a container are bursts of JSON and protobuf
  // garbage; a shim then idles for the task's life. Hand the freed heap
  // pages back instead of keeping them resident per task.
  malloc_trim(0);
  task::StartResponse r;
  r.set_pid((*p)->pid);
  co_return r;
}

Task<StatusOr<task::WaitResponse>> doWait(StateP s, task::WaitRequest req) {
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  std::shared_ptr<Proc> proc = *p;
  while (!proc->exitStatus) co_await proc->exited.wait();
  task::WaitResponse r;
  r.set_exit_status(*proc->exitStatus);
  *r.mutable_exited_at() = timestamp(proc->exitedAtNanos);
  co_return r;
}

Task<StatusOr<task::StateResponse>> doState(StateP s, task::StateRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  task::StateResponse r;
  r.set_id(req.id());
  r.set_bundle((*t)->bundle);
  r.set_pid((*p)->pid);
  r.set_exec_id(req.exec_id());
  r.set_stdin((*p)->stdinPath);
  r.set_stdout((*p)->stdoutPath);
  r.set_stderr((*p)->stderrPath);
  r.set_terminal((*p)->terminal);
  if ((*p)->exitStatus) {
    r.set_status(containerd::v1::types::STOPPED);
    r.set_exit_status(*(*p)->exitStatus);
    *r.mutable_exited_at() = timestamp((*p)->exitedAtNanos);
  } else if ((*t)->paused) {
    r.set_status(containerd::v1::types::PAUSED);
  } else {
    r.set_status((*p)->started ? containerd::v1::types::RUNNING : containerd::v1::types::CREATED);
  }
  co_return r;
}

// Pause/Resume: a task has its own utility VM, so pausing the VM (HCS Pause:
// every vCPU, here the VM's cgroup frozen) pauses exactly the task.
Task<StatusOr<Empty>> doPauseResume(StateP s, std::string id, bool pause) {
  auto t = findTask(*s, id);
  if (!t.ok()) co_return t.status();
  if (!(*t)->init->started || (*t)->init->exitStatus) {
    co_return FailedPreconditionError("task " + id + " is not running");
  }
  if ((*t)->vm.use_count() > 1) {
    co_return UnimplementedError("pausing one container of a pod (its utility VM is shared) is not supported");
  }
  if ((*t)->paused == pause) co_return FailedPreconditionError("task " + id + (pause ? " is already paused" : " is not paused"));
  Status st;  // (no co_await inside ?: - GCC 12 miscompiles it)
  if (pause) {
    st = co_await (*t)->vm->system().pause();
  } else {
    st = co_await (*t)->vm->system().resume();
  }
  if (!st.ok()) co_return st;
  (*t)->paused = pause;
  if (pause) {
    ev::TaskPaused e;
    e.set_container_id(id);
    s->events.publish("/tasks/paused", e);
  } else {
    ev::TaskResumed e;
    e.set_container_id(id);
    s->events.publish("/tasks/resumed", e);
  }
  co_return Empty();
}

Task<StatusOr<Empty>> doPause(StateP s, task::PauseRequest req) { co_return co_await doPauseResume(s, req.id(), true); }
Task<StatusOr<Empty>> doResume(StateP s, task::ResumeRequest req) {
  co_return co_await doPauseResume(s, req.id(), false);
}

Task<StatusOr<Empty>> doKill(StateP s, task::KillRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  if ((*p)->exitStatus) co_return NotFoundError("process " + req.id() + "/" + req.exec_id() + " has already exited");
  if (!(*p)->started) co_return FailedPreconditionError("process " + req.id() + "/" + req.exec_id() + " is not running");
  int sig = static_cast<int>(req.signal());
  if (sig <= 0 || sig > 64) co_return InvalidArgumentError("signal " + std::to_string(sig) + " is not valid");
  if (req.all() && req.exec_id().empty()) {
    for (auto& [id, e] : (*t)->execs) {
      if (e->started && !e->exitStatus) (void)co_await e->gp->signal(sig);
    }
  }
  Status st = co_await (*p)->gp->signal(sig);
  if (!st.ok() && st.hresult() == hresult::kElementNotFound) co_return NotFoundError(st.message());
  if (!st.ok()) co_return st;
  co_return Empty();
}

Task<StatusOr<Empty>> doExec(StateP s, task::ExecProcessRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  if (req.exec_id().empty()) co_return InvalidArgumentError("exec_id is required");
  if ((*t)->execs.count(req.exec_id())) co_return AlreadyExistsError("exec " + req.exec_id() + " already exists");
  if ((*t)->init->exitStatus) co_return FailedPreconditionError("task " + req.id() + " has exited");
  if (Status io = checkOutputUris(req.stdout(), req.stderr()); !io.ok()) co_return io;
  auto spec = parseJson(req.spec().value());
  if (!spec.ok() || !spec->is_object()) co_return InvalidArgumentError("exec spec: not an OCI process JSON document");
  auto p = std::make_shared<Proc>();
  p->execId = req.exec_id();
  p->stdinPath = req.stdin();
  p->stdoutPath = req.stdout();
  p->stderrPath = req.stderr();
  p->terminal = req.terminal();
  p->ociProcess = *spec;
  (*t)->execs[req.exec_id()] = p;
  ev::TaskExecAdded e;
  e.set_container_id(req.id());
  e.set_exec_id(req.exec_id());
  s->events.publish("/tasks/exec-added", e);
  co_return Empty();
}

Task<StatusOr<task::DeleteResponse>> doDelete(StateP s, task::DeleteRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  if ((*p)->started && !(*p)->exitStatus) {
    co_return FailedPreconditionError("process " + req.id() + "/" + req.exec_id() + " is still running");
  }
  task::DeleteResponse r;
  r.set_pid((*p)->pid);
  r.set_exit_status((*p)->exitStatus.value_or(0));
  *r.mutable_exited_at() = timestamp((*p)->exitedAtNanos);
  if (!req.exec_id().empty()) {
    (*t)->execs.erase(req.exec_id());
    co_return r;
  }
  // The task itself: its container, its VM (when no other task of the pod
  // still runs in it), its rootfs.
  (void)co_await (*t)->container->remove();
  std::shared_ptr<uvm::UtilityVM> vm = std::move((*t)->vm);
  (*t)->vm.reset();
  if (vm.use_count() == 1) (void)co_await vm->close();
  if ((*t)->rootfsMounted) ::umount2(((*t)->bundle + "/rootfs").c_str(), MNT_DETACH);
  s->tasks.erase(req.id());
  ev::TaskDelete e;
  e.set_container_id(req.id());
  e.set_pid(r.pid());
  e.set_exit_status(r.exit_status());
  *e.mutable_exited_at() = r.exited_at();
  s->events.publish("/tasks/delete", e);
  co_return r;
}

Task<StatusOr<task::PidsResponse>> doPids(StateP s, task::PidsRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  task::PidsResponse r;
  if (!(*t)->init->started || (*t)->init->exitStatus) co_return r;
  std::vector<std::string> types = {"ProcessList"};
  auto props = co_await (*t)->container->properties(types);
  if (!props.ok()) co_return props.status();
  for (const auto& d : props->processList) r.add_processes()->set_pid(d.processId.value_or(0));
  co_return r;
}

Task<StatusOr<Empty>> doResizePty(StateP s, task::ResizePtyRequest req) {
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  if (!(*p)->started || (*p)->exitStatus) co_return FailedPreconditionError("process is not running");
  Status st = co_await (*p)->gp->resizeConsole(static_cast<uint16_t>(req.height()), static_cast<uint16_t>(req.width()));
  if (!st.ok()) co_return st;
  co_return Empty();
}

Task<StatusOr<Empty>> doCloseIO(StateP s, task::CloseIORequest req) {
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  if (req.stdin() && (*p)->stdinRelay) (void)(*p)->stdinRelay->shutdownWrite();
  co_return Empty();
}

Task<StatusOr<task::ConnectResponse>> doConnect(StateP s, task::ConnectRequest req) {
  task::ConnectResponse r;
  r.set_shim_pid(static_cast<uint32_t>(getpid()));
  auto t = findTask(*s, req.id());
  if (t.ok()) r.set_task_pid((*t)->init->pid);
  r.set_version("runhcs-v1 (hcsshim-cpp)");
  co_return r;
}

Task<StatusOr<Empty>> doShutdown(StateP s, task::ShutdownRequest) {
  if (s->tasks.empty()) {
    s->done = true;
    s->doneChanged.notifyAll();
  }
  co_return Empty();
}

// Stats: the container's cgroup metrics from the guest, as the cgroups v1
// Metrics containerd's CRI and `ctr task metrics` read.
Task<StatusOr<task::StatsResponse>> doStats(StateP s, task::StatsRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  if (!(*t)->init->started || (*t)->init->exitStatus) co_return FailedPreconditionError("task " + req.id() + " is not running");
  std::vector<std::string> types = {"Statistics"};
  auto props = co_await (*t)->container->properties(types);
  if (!props.ok()) co_return props.status();
  const Json& m = props->lcowMetrics;
  auto u64 = [](const Json& j, const char* a, const char* b = nullptr, const char* c = nullptr) -> uint64_t {
    const Json* v = &j;
    for (const char* k : {a, b, c}) {
      if (!k) break;
      if (!v->is_object() || !v->contains(k)) return 0;
      v = &(*v)[k];
    }
    return v->is_number_unsigned() || v->is_number_integer() ? v->get<uint64_t>() : 0;
  };
  io::containerd::cgroups::v1::Metrics metrics;
  metrics.mutable_pids()->set_current(u64(m, "pids", "current"));
  metrics.mutable_pids()->set_limit(u64(m, "pids", "limit"));
  auto* cpu = metrics.mutable_cpu()->mutable_usage();
  cpu->set_total(u64(m, "cpu", "usage", "total"));
  cpu->set_kernel(u64(m, "cpu", "usage", "kernel"));
  cpu->set_user(u64(m, "cpu", "usage", "user"));
  auto* mem = metrics.mutable_memory();
  mem->set_cache(u64(m, "memory", "cache"));
  mem->set_rss(u64(m, "memory", "rss"));
  mem->mutable_usage()->set_usage(u64(m, "memory", "usage", "usage"));
  mem->mutable_usage()->set_limit(u64(m, "memory", "usage", "limit"));
  mem->mutable_usage()->set_max(u64(m, "memory", "usage", "max"));
  mem->mutable_usage()->set_failcnt(u64(m, "memory", "usage", "failcnt"));
  task::StatsResponse r;
  r.mutable_stats()->set_type_url("io.containerd.cgroups.v1.Metrics");
  r.mutable_stats()->set_value(metrics.SerializeAsString());
  co_return r;
}

// Update: OCI LinuxResources (JSON in the Any) applied in the guest.
Task<StatusOr<Empty>> doUpdate(StateP s, task::UpdateTaskRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  if (req.resources().type_url().find("LinuxResources") == std::string::npos) {
    co_return InvalidArgumentError("Update: want OCI LinuxResources, got " + req.resources().type_url());
  }
  auto resources = parseJson(req.resources().value());
  if (!resources.ok() || !resources->is_object()) {
    co_return InvalidArgumentError("Update: LinuxResources is not a JSON object");
  }
  if (!(*t)->init->started || (*t)->init->exitStatus) co_return FailedPreconditionError("task " + req.id() + " is not running");
  Status st = co_await (*t)->container->update(*resources);
  if (!st.ok()) co_return st;
  co_return Empty();
}

// ---- diagnostics (tools/shimdiag) ----
namespace diag = hcsshim::shimdiag::v1;

Task<StatusOr<diag::ExecInUVMResponse>> doExecInUvm(StateP s, diag::ExecInUVMRequest req) {
  std::shared_ptr<TaskRecord> t;
  if (req.task_id().empty()) {
    if (s->tasks.empty()) co_return NotFoundError("the shim has no task");
    t = s->tasks.begin()->second;
  } else {
    auto found = findTask(*s, req.task_id());
    if (!found.ok()) co_return found.status();
    t = *found;
  }
  if (req.args_size() == 0) co_return InvalidArgumentError("args: a command is required");
  bridge::ProcessParameters pp;
  for (const auto& a : req.args()) pp.commandArgs.push_back(a);
  bridge::StdioRequest stdio{.out = true, .err = true};
  auto p = co_await t->vm->exec(pp, stdio);
  if (!p.ok()) co_return p.status();
  // Both streams at once: a process blocked on a full stderr never ends stdout.
  runtime::Oneshot<std::string> err;
  runtime::spawn([](runtime::Stream* in, runtime::Oneshot<std::string> out) -> Task<void> {
    auto all = co_await runtime::readToEnd(*in, 1 << 20);
    out.set(all.ok() ? *all : "");
  }((*p)->stderrStream(), err));
  auto out = co_await runtime::readToEnd(*(*p)->stdoutStream(), 1 << 20);
  auto code = co_await (*p)->wait();
  diag::ExecInUVMResponse r;
  r.set_exit_code(code.ok() ? static_cast<int32_t>(*code) : -1);
  r.set_stdout(out.ok() ? *out : "");
  r.set_stderr(co_await err);
  co_return r;
}

Task<StatusOr<diag::StacksResponse>> doStacks(StateP s, diag::StacksRequest) {
  diag::StacksResponse r;
  std::string shim = "shim pid " + std::to_string(getpid()) + ", " + std::to_string(s->tasks.size()) + " tasks\n";
  std::set<uvm::UtilityVM*> vms;
  for (auto& [id, t] : s->tasks) {
    shim += "task " + id + " vm " + (t->vm ? t->vm->id() : "-") + " pid " + std::to_string(t->init->pid) +
            " execs " + std::to_string(t->execs.size()) + "\n";
    if (t->vm) vms.insert(t->vm.get());
  }
  r.set_shim(shim);
  std::string guests;
  for (auto* vm : vms) {
    auto stacks = co_await vm->guest().dumpStacks();
    guests += "== " + vm->id() + " ==\n" + (stacks.ok() ? *stacks : stacks.status().toString() + "\n");
  }
  r.set_guests(guests);
  co_return r;
}

Task<StatusOr<diag::TasksResponse>> doTasks(StateP s, diag::TasksRequest) {
  diag::TasksResponse r;
  for (auto& [id, t] : s->tasks) {
    auto* info = r.add_tasks();
    info->set_id(id);
    info->set_vm_id(t->vm ? t->vm->id() : "");
    info->set_pid(t->init->pid);
    info->set_status(t->init->exitStatus ? "stopped" : t->paused ? "paused" : t->init->started ? "running" : "created");
    for (auto& [eid, e] : t->execs) info->add_execs(eid);
  }
  co_return r;
}

template <typename Resp>
Task<StatusOr<Resp>> unimplemented(std::string what) {
  co_return UnimplementedError(what);
}

}  // namespace

TaskService::TaskService(runtime::RealRuntime& rt, hcs::HcsApi& hcs, Publisher& events, ShimConfig config)
    : s_(std::make_shared<TaskState>(rt, hcs, events, std::move(config))) {}

TaskService::~TaskService() = default;

bool TaskService::done() const { return s_->done; }

void TaskService::finish() {
  s_->done = true;
  s_->doneChanged.notifyAll();
}

Task<void> TaskService::waitDone() {
  StateP s = s_;
  while (!s->done) co_await s->doneChanged.wait();
}

Task<void> TaskService::closeAll() {
  StateP s = s_;
  for (auto& [id, t] : std::map(s->tasks)) {
    if (t->container) (void)co_await t->container->remove();
    if (t->vm) (void)co_await t->vm->close();
    if (t->rootfsMounted) ::umount2((t->bundle + "/rootfs").c_str(), MNT_DETACH);
  }
  s->tasks.clear();
}

void TaskService::registerWith(ttrpc::Server& server) {
  StateP s = s_;
#define HCS_SHIM_RPC(Method, Req, Resp, fn)                                                                   \
  server.registerUnary<Req, Resp>(kService, Method, [s](ttrpc::CallContext&, const Req& r) { return fn(s, r); })
  HCS_SHIM_RPC("Create", task::CreateTaskRequest, task::CreateTaskResponse, doCreate);
  HCS_SHIM_RPC("Start", task::StartRequest, task::StartResponse, doStart);
  HCS_SHIM_RPC("Wait", task::WaitRequest, task::WaitResponse, doWait);
  HCS_SHIM_RPC("State", task::StateRequest, task::StateResponse, doState);
  HCS_SHIM_RPC("Kill", task::KillRequest, Empty, doKill);
  HCS_SHIM_RPC("Exec", task::ExecProcessRequest, Empty, doExec);
  HCS_SHIM_RPC("Delete", task::DeleteRequest, task::DeleteResponse, doDelete);
  HCS_SHIM_RPC("Pids", task::PidsRequest, task::PidsResponse, doPids);
  HCS_SHIM_RPC("ResizePty", task::ResizePtyRequest, Empty, doResizePty);
  HCS_SHIM_RPC("CloseIO", task::CloseIORequest, Empty, doCloseIO);
  HCS_SHIM_RPC("Connect", task::ConnectRequest, task::ConnectResponse, doConnect);
  HCS_SHIM_RPC("Shutdown", task::ShutdownRequest, Empty, doShutdown);
  HCS_SHIM_RPC("Pause", task::PauseRequest, Empty, doPause);
  HCS_SHIM_RPC("Resume", task::ResumeRequest, Empty, doResume);
#undef HCS_SHIM_RPC
  const char* kDiag = "hcsshim.shimdiag.v1.ShimDiag";
  server.registerUnary<diag::ExecInUVMRequest, diag::ExecInUVMResponse>(
      kDiag, "ExecInUVM", [s](ttrpc::CallContext&, const diag::ExecInUVMRequest& r) { return doExecInUvm(s, r); });
  server.registerUnary<diag::StacksRequest, diag::StacksResponse>(
      kDiag, "Stacks", [s](ttrpc::CallContext&, const diag::StacksRequest& r) { return doStacks(s, r); });
  server.registerUnary<diag::TasksRequest, diag::TasksResponse>(
      kDiag, "Tasks", [s](ttrpc::CallContext&, const diag::TasksRequest& r) { return doTasks(s, r); });
  server.registerUnary<task::CheckpointTaskRequest, Empty>(
      kService, "Checkpoint", [](ttrpc::CallContext&, const task::CheckpointTaskRequest&) {
        return unimplemented<Empty>("Checkpoint: runhcs does not checkpoint utility VM containers");
      });
  server.registerUnary<task::UpdateTaskRequest, Empty>(
      kService, "Update", [s](ttrpc::CallContext&, const task::UpdateTaskRequest& r) { return doUpdate(s, r); });
  server.registerUnary<task::StatsRequest, task::StatsResponse>(
      kService, "Stats", [s](ttrpc::CallContext&, const task::StatsRequest& r) { return doStats(s, r); });
}

}  // namespace hcsshim::shim
