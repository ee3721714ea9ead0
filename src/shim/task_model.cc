#include "src/shim/task_model.h"

#include <unistd.h>

#include <filesystem>
#include <set>

#include "src/common/bug_zoo.h"
#include "src/common/log.h"
#include "src/containerd/api/cgroups_metrics.pb.h"
#include "src/containerd/api/events.pb.h"
#include "src/hns/hcn.h"
#include "src/runtime/read_file.h"
#include "src/shim/process.h"
#include "src/shim/rootfs.h"
#include "src/shim/vm_options.h"
#include "src/uvm/uvm.h"

// mingw-w64's <stdio.h> defines stdin/stdout/stderr as macros; this file
// calls the messages' accessors of those names, never the C streams.
#ifdef _WIN32
#undef stdin
#undef stdout
#undef stderr
#endif

namespace hcsshim::shim {

using runtime::Task;
namespace ev = containerd::events;
using Empty = hcsshim::protobuf::Empty;

// One process of a task: its init ("" exec id) or an exec.
struct Proc {
  std::string taskId, execId;
  ProcessStateMachine sm;
  uint32_t pid = 0;
  uint32_t exitStatus = 0;
  int64_t exitedAtNanos = 0;
  runtime::WaitList exited;
  std::string stdinPath, stdoutPath, stderrPath;
  bool terminal = false;
  Json ociProcess;  // execs
  std::unique_ptr<bridge::GuestProcess> gp;
  std::shared_ptr<runtime::Stream> stdinRelay;  // the guest's stdin (CloseIO)
  int outputRelays = 0;                          // stdout/stderr copies still running
  runtime::WaitList outputDrained;
  std::string name() const { return execId.empty() ? taskId : taskId + "/" + execId; }
};

struct TaskRecord {
  std::string id, bundle, rootfs;
  Json spec;
  // The task's utility VM: its own, or its pod sandbox's (shared).
  std::shared_ptr<uvm::UtilityVM> vm;
  std::unique_ptr<uvm::Container> container;
  std::shared_ptr<Proc> init;
  std::map<std::string, std::shared_ptr<Proc>> execs;
  bool rootfsMounted = false;
  // The VM is paused by a Pause of this task (Resume or the init's exit undoes it).
  bool vmPaused = false;
  // Host directories shared into the VM for the spec's bind mounts.
  std::vector<std::string> shares;
  // Layers as ext4 images: the task's name in the layer store (which also
  // keeps its scratch disk).
  std::string layerOwner;
};

struct ModelState {
  ModelState(runtime::Runtime& r, hcs::HcsApi& h, EventSink& e, ShimPlatform& p, ShimConfig c)
      : rt(r), hcs(h), events(e), platform(p), config(std::move(c)) {}
  runtime::Runtime& rt;
  hcs::HcsApi& hcs;
  EventSink& events;
  ShimPlatform& platform;
  ShimConfig config;
  std::unique_ptr<hns::HnsApi> hns;  // connected on first use
  std::map<std::string, std::shared_ptr<TaskRecord>> tasks;
  bool done = false;
  runtime::WaitList doneChanged;
};

namespace {

using StateP = std::shared_ptr<ModelState>;

hcsshim::protobuf::Timestamp timestamp(int64_t nanos) {
  hcsshim::protobuf::Timestamp t;
  t.set_seconds(nanos / 1000000000);
  t.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return t;
}

StatusOr<std::shared_ptr<TaskRecord>> findTask(ModelState& s, const std::string& id) {
  auto it = s.tasks.find(id);
  if (it == s.tasks.end()) return NotFoundError("task " + id + " not found");
  return it->second;
}

StatusOr<std::shared_ptr<Proc>> findProc(ModelState& s, const std::string& id, const std::string& execId) {
  HCS_ASSIGN_OR_RETURN(auto t, findTask(s, id));
  if (execId.empty()) return t->init;
  auto it = t->execs.find(execId);
  if (it == t->execs.end()) return NotFoundError("exec " + execId + " of task " + id + " not found");
  return it->second;
}

// attachNetwork: a sandbox (or standalone task) whose spec names an HCN
// namespace gets that namespace's endpoints in its utility VM, as hcsshim
// does for a pod; its containers join the namespace inside the VM through
// the same spec field.
Task<Status> attachNetwork(StateP s, uvm::UtilityVM& vm, std::string nsid) {
  if (!s->hns) {
    auto api = co_await s->platform.connectHns();
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

// releaseShares: the Plan9 shares of a task's bind mounts.
Task<void> releaseShares(std::shared_ptr<TaskRecord> t, std::shared_ptr<uvm::UtilityVM> vm) {
  std::vector<std::string> shares = std::move(t->shares);
  t->shares.clear();
  for (const std::string& dir : shares) {
    Status st = co_await vm->removePlan9(dir);
    if (!st.ok()) HLOG(Warn, "shim.share_remove_failed").kv("task", t->id).kv("dir", dir).kv("err", st);
  }
}

// shareBindMounts: the spec's bind mounts come from the host (a CRI volume,
// the pod's /etc/hosts, resolv.conf and /dev/shm): each source is shared
// into the VM over Plan9 (a file by its directory) and the mount reads
// from the share, as hcsshim maps host directories into a utility VM.
// Read-only mounts get read-only shares. The shares are the task's.
Task<Status> shareBindMounts(std::shared_ptr<TaskRecord> t, std::shared_ptr<uvm::UtilityVM> vm, Json& spec) {
  if (!spec.contains("mounts")) co_return OkStatus();
  Json& mounts = spec["mounts"];
  if (!mounts.is_array()) co_return InvalidArgumentError("spec mounts: want an array");
  for (Json& m : mounts) {
    if (!m.is_object() || !m.contains("source") || !m["source"].is_string()) continue;
    bool bind = m.contains("type") && m["type"] == "bind";
    bool readOnly = false;
    if (m.contains("options") && m["options"].is_array()) {
      for (const Json& o : m["options"]) {
        if (o == "bind" || o == "rbind") bind = true;
        if (o == "ro") readOnly = true;
      }
    }
    std::string source = m["source"].get<std::string>();
    if (!bind || source.empty() || source[0] != '/') continue;
    std::error_code ec;
    auto kind = std::filesystem::status(source, ec).type();
    if (kind == std::filesystem::file_type::not_found) {
      co_return InvalidArgumentError("spec mounts: the bind mount source " + source + " does not exist on the host");
    }
    bool isDir = kind == std::filesystem::file_type::directory;
    std::string dir = isDir ? source : std::filesystem::path(source).parent_path().string();
    // A file's directory may hold more than the file: shared read-only
    // unless the mount writes (then as the mount asks).
    auto guest = co_await vm->addPlan9(dir, readOnly);
    if (!guest.ok()) co_return guest.status();
    t->shares.push_back(dir);
    m["source"] = isDir ? *guest : *guest + "/" + std::filesystem::path(source).filename().string();
  }
  co_return OkStatus();
}

// bootVm: a task's own utility VM, booted and networked (closed again on failure).
Task<StatusOr<std::shared_ptr<uvm::UtilityVM>>> bootVm(StateP s, uvm::LcowOptions opts, std::string netns) {
  auto created = co_await uvm::UtilityVM::create(s->rt, s->hcs, s->platform.vsockFor(opts.id), opts);
  if (!created.ok()) co_return created.status();
  std::shared_ptr<uvm::UtilityVM> vm(std::move(*created));
  Status st = co_await vm->start();
  if (st.ok() && !netns.empty()) st = co_await attachNetwork(s, *vm, netns);
  if (!st.ok()) {
    (void)co_await vm->close();
    co_return st;
  }
  co_return vm;
}

// layerTransportOf: how a task's layers reach its VM - annotation
// io.hcsshim-cpp.lcow.layers: "ext4" (the default, as hcsshim: each layer an
// ext4 image on VPMem or SCSI, a scratch disk on SCSI) or "plan9" (the
// layer directories and containerd's snapshot shared over 9P).
StatusOr<std::string> layerTransportOf(const Json& spec) {
  constexpr const char* kKey = "io.hcsshim-cpp.lcow.layers";
  if (!spec.contains("annotations") || !spec["annotations"].is_object() || !spec["annotations"].contains(kKey)) {
    return std::string("ext4");
  }
  const Json& v = spec["annotations"][kKey];
  if (!v.is_string() || (v.get<std::string>() != "ext4" && v.get<std::string>() != "plan9")) {
    return InvalidArgumentError(std::string("annotation ") + kKey + ": want \"ext4\" or \"plan9\"");
  }
  return v.get<std::string>();
}

void releaseLayerImages(ModelState& s, TaskRecord& t) {
  if (!t.layerOwner.empty() && s.platform.layerImages()) (void)s.platform.layerImages()->releaseAll(t.layerOwner);
  t.layerOwner.clear();
}

// createOnLayerImages: each of containerd's layers as its ext4 image (made
// once per content by the platform's store), a fresh scratch disk from the
// store; the VM attaches them and combines them, as hcsshim's LCOW does.
Task<StatusOr<std::unique_ptr<uvm::Container>>> createOnLayerImages(StateP s, std::shared_ptr<TaskRecord> t,
                                                                     std::shared_ptr<uvm::UtilityVM> vm,
                                                                     OverlayLayers layers, Json guestSpec) {
  LayerImages* store = s->platform.layerImages();
  if (!store) co_return UnimplementedError("this platform makes no layer images: use annotation io.hcsshim-cpp.lcow.layers=plan9");
  t->layerOwner = s->config.ns + "/" + t->id;
  std::vector<std::string> images;
  for (const auto& dir : layers.lower) {
    auto image = store->acquire(dir, t->layerOwner);
    if (!image.ok()) co_return image.status();
    images.push_back(*image);
  }
  constexpr uint64_t kScratchBytes = uint64_t{20} << 30;  // hcsshim's default scratch size
  auto scratch = co_await store->makeScratch(t->layerOwner, kScratchBytes);
  if (!scratch.ok()) co_return scratch.status();
  co_return co_await vm->createContainer(t->id, images, guestSpec, *scratch);
}

Task<StatusOr<taskv2::CreateTaskResponse>> doCreate(StateP s, taskv2::CreateTaskRequest req) {
  if (req.id().empty()) co_return InvalidArgumentError("Create: the task id is empty");
  if (s->tasks.count(req.id())) co_return AlreadyExistsError("task " + req.id() + " already exists");
  if (!req.checkpoint().empty()) co_return UnimplementedError("checkpoint/restore is not supported by runhcs");
  if (Status io = s->platform.stdio().checkOutputUris(req.stdout(), req.stderr()); !io.ok()) co_return io;
  auto text = runtime::readFile(req.bundle() + "/config.json", 16 << 20);
  if (!text) co_return InvalidArgumentError("bundle " + req.bundle() + ": config.json cannot be read");
  auto spec = parseJson(*text);
  if (!spec.ok()) co_return InvalidArgumentError("bundle config.json: " + spec.status().message());
  if (!spec->is_object()) co_return InvalidArgumentError("bundle config.json: not a JSON object");
  auto opts = vmOptions(req.id(), req.options(), *spec, s->config.defaultBootFiles);
  if (!opts.ok()) co_return opts.status();
  auto netns = networkNamespaceOf(*spec);
  if (!netns.ok()) co_return netns.status();
  Json guestSpec = *spec;
  HCS_CO_RETURN_IF_ERROR(guestNamespaces(guestSpec));
  // The guest joins the HCN namespace's network namespace by this field.
  if (!netns->empty()) guestSpec["windows"]["network"]["networkNamespace"] = *netns;
  auto t = std::make_shared<TaskRecord>();
  t->id = req.id();
  t->bundle = req.bundle();
  t->spec = *spec;
  // containerd mounts a snapshot at <bundle>/rootfs; without mounts the
  // spec's root.path (relative to the bundle) is the root, as for runc.
  t->rootfs = req.bundle() + "/rootfs";
  if (req.rootfs_size() == 0 && spec->contains("root") && (*spec)["root"].is_object() &&
      (*spec)["root"].value("path", Json("")).is_string() && (*spec)["root"].value("path", "") != "") {
    std::string p = (*spec)["root"]["path"].get<std::string>();
    t->rootfs = p[0] == '/' ? p : req.bundle() + "/" + p;
  }
  auto layers = overlayLayers(req.rootfs());
  // containerd's windows-lcow snapshotter: the layers are already disks.
  auto disks = lcowLayerDisks(req.rootfs());
  if (!disks.ok()) co_return disks.status();
  if (req.rootfs_size() > 0 && !layers && !*disks) {
    Status st = s->platform.rootfs().mount(req.rootfs(), t->rootfs);
    if (!st.ok()) co_return st;
    t->rootfsMounted = true;
  }
  auto cleanupRootfs = [&] {
    if (t->rootfsMounted) s->platform.rootfs().unmount(t->rootfs);
  };
  // A container of a pod (CRI annotations) runs in its sandbox's VM.
  std::shared_ptr<uvm::UtilityVM> vm;
  bool ownVm = true;
  if (std::string sandbox = sandboxOf(*spec); !sandbox.empty()) {
    auto it = s->tasks.find(sandbox);
    if (it == s->tasks.end() || !it->second->vm) {
      cleanupRootfs();
      co_return FailedPreconditionError("pod sandbox " + sandbox + " is not running in this shim");
    }
    vm = it->second->vm;
    ownVm = false;
  } else {
    auto booted = co_await bootVm(s, *opts, *netns);
    if (!booted.ok()) {
      cleanupRootfs();
      co_return booted.status();
    }
    vm = std::move(*booted);
  }
  if (guestSpec.contains("linux") && guestSpec["linux"].is_object()) {
    guestSpec["linux"].erase("cgroupsPath");  // the guest agent places it
  }
  StatusOr<std::unique_ptr<uvm::Container>> c = NotFoundError("");
  Status shared = co_await shareBindMounts(t, vm, guestSpec);
  auto transport = layerTransportOf(*spec);
  if (!shared.ok()) c = shared;
  if (shared.ok() && !transport.ok()) c = transport.status();
  if (shared.ok() && *disks) {
    c = co_await vm->createContainer(req.id(), (*disks)->layers, guestSpec, (*disks)->scratch);
  } else if (shared.ok() && layers && transport.ok() && *transport == "ext4") {
    c = co_await createOnLayerImages(s, t, vm, *layers, guestSpec);
  } else if (shared.ok() && layers && transport.ok()) {
    c = co_await vm->createContainer(req.id(), layers->lower, guestSpec, layers->snapshotDir);
  } else if (shared.ok() && transport.ok()) {
    c = co_await vm->createContainerOnShare(req.id(), t->rootfs, guestSpec);
  }
  if (!c.ok()) {
    co_await releaseShares(t, vm);
    if (ownVm) (void)co_await vm->close();
    cleanupRootfs();
    releaseLayerImages(*s, *t);
    co_return c.status();
  }
  t->vm = std::move(vm);
  t->container = std::move(*c);
  t->init = std::make_shared<Proc>();
  t->init->taskId = req.id();
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
  taskv2::CreateTaskResponse r;
  r.set_pid(0);  // the init runs at Start
  co_return r;
}

// watchExit records the exit and publishes the one TaskExit of the process.
Task<void> watchExit(StateP s, std::shared_ptr<TaskRecord> t, std::shared_ptr<Proc> p) {
  auto code = co_await p->gp->wait();
  // The exit can overtake the output (separate guest connections): let the
  // output relays finish first, for a bounded time (a process whose children
  // keep its stdout open must still be reported).
  if (p->outputRelays > 0 && !zoo::reintroduced(zoo::Bug::kExitBeforeOutputDrained)) {
    bool late = false;
    auto timer = s->rt.loop().addTimer(std::chrono::seconds(5), [p, &late] {
      late = true;
      p->outputDrained.notifyAll();
    });
    while (p->outputRelays > 0 && !late) co_await p->outputDrained.wait();
    s->rt.loop().cancelTimer(timer);
  }
  if (!p->sm.markExited()) co_return;  // exactly one exit per process
  p->exitStatus = code.ok() ? *code : 255u;
  p->exitedAtNanos = s->rt.loop().clock().wallNanos();
  ev::TaskExit e;
  e.set_container_id(t->id);
  e.set_id(p->execId.empty() ? t->id : p->execId);
  e.set_pid(p->pid);
  e.set_exit_status(p->exitStatus);
  *e.mutable_exited_at() = timestamp(p->exitedAtNanos);
  s->events.publish("/tasks/exit", e);
  p->exited.notifyAll();
  // An init whose exit was on its way as its VM was paused: the task is
  // stopped now, so its VM runs again (its delete and pod containers need it).
  if (p == t->init && t->vmPaused && t->vm) {
    t->vmPaused = false;
    Status st = co_await t->vm->system().resume();
    if (!st.ok()) HLOG(Warn, "shim.resume_after_exit_failed").kv("task", t->id).kv("err", st);
  }
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
  StdioEndpoints& stdio = s->platform.stdio();
  if (isBinaryUri(p->stdoutPath)) {
    // containerd's binary logging: one logger takes stdout and stderr.
    BinaryLoggerOptions o;
    o.uri = p->stdoutPath;
    o.containerId = taskId;
    o.ns = s->config.ns;
    auto logger = co_await stdio.startBinaryLogger(o);
    if (!logger.ok()) co_return logger.status();
    if (p->gp->stdoutStream()) {
      std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(1)), to(std::move(logger->out));
      runtime::spawn(outputRelay(p, from, to));
    }
    if (!p->terminal && p->gp->stderrStream()) {
      std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(2)), to(std::move(logger->err));
      runtime::spawn(outputRelay(p, from, to));
    }
  } else {
    if (!p->stdoutPath.empty() && p->gp->stdoutStream()) {
      auto out = co_await stdio.openOutput(p->stdoutPath);
      if (!out.ok()) co_return out.status();
      std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(1)), to(std::move(*out));
      runtime::spawn(outputRelay(p, from, to));
    }
    if (!p->terminal && !p->stderrPath.empty() && p->gp->stderrStream()) {
      auto err = co_await stdio.openOutput(p->stderrPath);
      if (!err.ok()) co_return err.status();
      std::shared_ptr<runtime::Stream> from(p->gp->takeStdio(2)), to(std::move(*err));
      runtime::spawn(outputRelay(p, from, to));
    }
  }
  if (!p->stdinPath.empty() && p->gp->stdinStream()) {
    auto in = co_await stdio.openInput(p->stdinPath);
    if (!in.ok()) co_return in.status();
    p->stdinRelay = p->gp->takeStdio(0);
    std::shared_ptr<runtime::Stream> from(std::move(*in));
    runtime::spawn(relay(from, p->stdinRelay, false));
  }
  co_return OkStatus();
}

Task<StatusOr<taskv2::StartResponse>> doStart(StateP s, taskv2::StartRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto found = findProc(*s, req.id(), req.exec_id());
  if (!found.ok()) co_return found.status();
  std::shared_ptr<Proc> p = *found;
  HCS_CO_RETURN_IF_ERROR(p->sm.check(ProcessOp::kStart, p->name()));
  if (!req.exec_id().empty()) HCS_CO_RETURN_IF_ERROR((*t)->init->sm.check(ProcessOp::kExec, req.id()));
  bridge::StdioRequest stdio;
  stdio.in = !p->stdinPath.empty();
  stdio.out = !p->stdoutPath.empty();
  stdio.err = !p->terminal && !p->stderrPath.empty();
  StatusOr<std::unique_ptr<bridge::GuestProcess>> gp = NotFoundError("");
  if (req.exec_id().empty()) {
    bridge::ProcessParameters pp;
    pp.emulateConsole = p->terminal;
    gp = co_await (*t)->container->start(pp, stdio);
  } else {
    gp = co_await (*t)->container->exec(p->ociProcess, stdio, p->terminal);
  }
  if (!gp.ok()) co_return gp.status();
  // The state may have moved while the guest worked (a Delete of a created
  // exec, a second Start): the first to finish wins, the other is refused.
  if (Status st = p->sm.started(p->name()); !st.ok()) {
    (void)co_await (*gp)->signal(0);
    co_return st;
  }
  p->gp = std::move(*gp);
  p->pid = p->gp->pid();
  Status io = co_await attachStdio(s, req.id(), p);
  if (!io.ok()) HLOG(Warn, "shim.stdio_failed").kv("task", req.id()).kv("error", io.toString());
  if (req.exec_id().empty()) {
    ev::TaskStart e;
    e.set_container_id(req.id());
    e.set_pid(p->pid);
    s->events.publish("/tasks/start", e);
  } else {
    ev::TaskExecStarted e;
    e.set_container_id(req.id());
    e.set_exec_id(req.exec_id());
    e.set_pid(p->pid);
    s->events.publish("/tasks/exec-started", e);
  }
  runtime::spawn(watchExit(s, *t, p));
  s->platform.releaseMemory();
  taskv2::StartResponse r;
  r.set_pid(p->pid);
  co_return r;
}

Task<StatusOr<taskv2::WaitResponse>> doWait(StateP s, taskv2::WaitRequest req) {
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  std::shared_ptr<Proc> proc = *p;
  while (!proc->sm.exited()) co_await proc->exited.wait();
  taskv2::WaitResponse r;
  r.set_exit_status(proc->exitStatus);
  *r.mutable_exited_at() = timestamp(proc->exitedAtNanos);
  co_return r;
}

containerd::v1::types::Status statusOf(ProcessState st) {
  switch (st) {
    case ProcessState::kCreated: return containerd::v1::types::CREATED;
    case ProcessState::kRunning: return containerd::v1::types::RUNNING;
    case ProcessState::kPaused: return containerd::v1::types::PAUSED;
    case ProcessState::kStopped:
    case ProcessState::kDeleted: return containerd::v1::types::STOPPED;
  }
  return containerd::v1::types::UNKNOWN;
}

Task<StatusOr<taskv2::StateResponse>> doState(StateP s, taskv2::StateRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  taskv2::StateResponse r;
  r.set_id(req.id());
  r.set_bundle((*t)->bundle);
  r.set_pid((*p)->pid);
  r.set_exec_id(req.exec_id());
  r.set_stdin((*p)->stdinPath);
  r.set_stdout((*p)->stdoutPath);
  r.set_stderr((*p)->stderrPath);
  r.set_terminal((*p)->terminal);
  // An exec of a paused task is paused with it.
  ProcessState st = (*p)->sm.state();
  if (st == ProcessState::kRunning && (*t)->init->sm.state() == ProcessState::kPaused) st = ProcessState::kPaused;
  r.set_status(statusOf(st));
  if ((*p)->sm.exited()) {
    r.set_exit_status((*p)->exitStatus);
    *r.mutable_exited_at() = timestamp((*p)->exitedAtNanos);
  }
  co_return r;
}

// Pause/Resume: a task has its own utility VM, so pausing the VM (HCS Pause:
// every vCPU; on the fake's sim backend, the VM's cgroup frozen) pauses
// exactly the task.
Task<StatusOr<Empty>> doPauseResume(StateP s, std::string id, bool pause) {
  auto t = findTask(*s, id);
  if (!t.ok()) co_return t.status();
  Proc& init = *(*t)->init;
  HCS_CO_RETURN_IF_ERROR(init.sm.check(pause ? ProcessOp::kPause : ProcessOp::kResume, id));
  if ((*t)->vm.use_count() > 1) {
    co_return UnimplementedError("pausing one container of a pod (its utility VM is shared) is not supported");
  }
  Status st;  // (no co_await inside ?: - GCC 12 miscompiles it)
  if (pause) {
    st = co_await (*t)->vm->system().pause();
  } else {
    st = co_await (*t)->vm->system().resume();
  }
  if (!st.ok()) co_return st;
  (*t)->vmPaused = pause;
  if (pause) {
    // The init exited meanwhile: nothing is paused for containerd, and a
    // stopped task must not hold its VM frozen (nothing could resume it).
    if (!init.sm.paused(id).ok()) {
      st = co_await (*t)->vm->system().resume();
      if (st.ok()) (*t)->vmPaused = false;
      co_return FailedPreconditionError("task " + id + " exited while it was being paused");
    }
    ev::TaskPaused e;
    e.set_container_id(id);
    s->events.publish("/tasks/paused", e);
  } else {
    if (!init.sm.resumed(id).ok()) co_return Empty();
    ev::TaskResumed e;
    e.set_container_id(id);
    s->events.publish("/tasks/resumed", e);
  }
  co_return Empty();
}

Task<StatusOr<Empty>> doKill(StateP s, taskv2::KillRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  HCS_CO_RETURN_IF_ERROR((*p)->sm.check(ProcessOp::kKill, (*p)->name()));
  int sig = static_cast<int>(req.signal());
  if (sig <= 0 || sig > 64) co_return InvalidArgumentError("signal " + std::to_string(sig) + " is not valid");
  if (req.all() && req.exec_id().empty()) {
    for (auto& [id, e] : std::map((*t)->execs)) {
      if (e->sm.check(ProcessOp::kKill, e->name()).ok()) (void)co_await e->gp->signal(sig);
    }
  }
  Status st = co_await (*p)->gp->signal(sig);
  if (!st.ok() && st.hresult() == hresult::kElementNotFound) co_return NotFoundError(st.message());
  if (!st.ok()) co_return st;
  co_return Empty();
}

Task<StatusOr<Empty>> doExec(StateP s, taskv2::ExecProcessRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  if (req.exec_id().empty()) co_return InvalidArgumentError("exec_id is required");
  if ((*t)->execs.count(req.exec_id())) co_return AlreadyExistsError("exec " + req.exec_id() + " already exists");
  HCS_CO_RETURN_IF_ERROR((*t)->init->sm.check(ProcessOp::kExec, req.id()));
  if (Status io = s->platform.stdio().checkOutputUris(req.stdout(), req.stderr()); !io.ok()) co_return io;
  auto spec = parseJson(req.spec().value());
  if (!spec.ok() || !spec->is_object()) co_return InvalidArgumentError("exec spec: not an OCI process JSON document");
  auto p = std::make_shared<Proc>();
  p->taskId = req.id();
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

// releaseTask: the task's container, its VM (when no other task of the pod
// still runs in it), its rootfs.
Task<void> releaseTask(StateP s, std::shared_ptr<TaskRecord> t) {
  if (t->container) (void)co_await t->container->remove();
  if (t->vm && !t->shares.empty()) co_await releaseShares(t, t->vm);
  std::shared_ptr<uvm::UtilityVM> vm = std::move(t->vm);
  t->vm.reset();
  if (vm && vm.use_count() == 1) (void)co_await vm->close();
  if (t->rootfsMounted) s->platform.rootfs().unmount(t->rootfs);
  t->rootfsMounted = false;
  releaseLayerImages(*s, *t);
}

Task<StatusOr<taskv2::DeleteResponse>> doDelete(StateP s, taskv2::DeleteRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  HCS_CO_RETURN_IF_ERROR((*p)->sm.deleted((*p)->name()));
  taskv2::DeleteResponse r;
  r.set_pid((*p)->pid);
  r.set_exit_status((*p)->exitStatus);
  *r.mutable_exited_at() = timestamp((*p)->exitedAtNanos);
  if (!req.exec_id().empty()) {
    (*t)->execs.erase(req.exec_id());
    co_return r;
  }
  s->tasks.erase(req.id());
  co_await releaseTask(s, *t);
  ev::TaskDelete e;
  e.set_container_id(req.id());
  e.set_pid(r.pid());
  e.set_exit_status(r.exit_status());
  *e.mutable_exited_at() = r.exited_at();
  s->events.publish("/tasks/delete", e);
  co_return r;
}

Task<StatusOr<taskv2::PidsResponse>> doPids(StateP s, taskv2::PidsRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  taskv2::PidsResponse r;
  if (!(*t)->init->sm.check(ProcessOp::kInspect, req.id()).ok()) co_return r;  // nothing runs
  std::vector<std::string> types = {"ProcessList"};
  auto props = co_await (*t)->container->properties(types);
  if (!props.ok()) co_return props.status();
  for (const auto& d : props->processList) r.add_processes()->set_pid(d.processId.value_or(0));
  co_return r;
}

Task<StatusOr<Empty>> doResizePty(StateP s, taskv2::ResizePtyRequest req) {
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  HCS_CO_RETURN_IF_ERROR((*p)->sm.check(ProcessOp::kResize, (*p)->name()));
  if (req.height() > 0xffff || req.width() > 0xffff) {
    co_return InvalidArgumentError("ResizePty: " + std::to_string(req.width()) + "x" + std::to_string(req.height()) +
                                   " is larger than a console can be");
  }
  // 0x0 is a size like any other (a client without a terminal sends it).
  Status st = co_await (*p)->gp->resizeConsole(static_cast<uint16_t>(req.height()), static_cast<uint16_t>(req.width()));
  if (!st.ok()) co_return st;
  co_return Empty();
}

Task<StatusOr<Empty>> doCloseIO(StateP s, taskv2::CloseIORequest req) {
  auto p = findProc(*s, req.id(), req.exec_id());
  if (!p.ok()) co_return p.status();
  HCS_CO_RETURN_IF_ERROR((*p)->sm.check(ProcessOp::kCloseIo, (*p)->name()));
  if (req.stdin() && (*p)->stdinRelay) (void)(*p)->stdinRelay->shutdownWrite();
  co_return Empty();
}

Task<StatusOr<taskv2::ConnectResponse>> doConnect(StateP s, taskv2::ConnectRequest req) {
  taskv2::ConnectResponse r;
  r.set_shim_pid(static_cast<uint32_t>(s->rt.credentials().pid));
  auto t = findTask(*s, req.id());
  if (t.ok()) r.set_task_pid((*t)->init->pid);
  r.set_version("runhcs-v1 (hcsshim-cpp)");
  co_return r;
}

Task<StatusOr<Empty>> doShutdown(StateP s, taskv2::ShutdownRequest) {
  if (s->tasks.empty()) {
    s->done = true;
    s->doneChanged.notifyAll();
  }
  co_return Empty();
}

// Stats: the container's cgroup metrics from the guest, as the cgroups v1
// Metrics containerd's CRI and `ctr task metrics` read.
Task<StatusOr<taskv2::StatsResponse>> doStats(StateP s, taskv2::StatsRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  HCS_CO_RETURN_IF_ERROR((*t)->init->sm.check(ProcessOp::kInspect, req.id()));
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
  taskv2::StatsResponse r;
  r.mutable_stats()->set_type_url("io.containerd.cgroups.v1.Metrics");
  r.mutable_stats()->set_value(metrics.SerializeAsString());
  co_return r;
}

// Update: OCI LinuxResources (JSON in the Any) applied in the guest.
Task<StatusOr<Empty>> doUpdate(StateP s, taskv2::UpdateTaskRequest req) {
  auto t = findTask(*s, req.id());
  if (!t.ok()) co_return t.status();
  if (req.resources().type_url().find("LinuxResources") == std::string::npos) {
    co_return InvalidArgumentError("Update: want OCI LinuxResources, got " + req.resources().type_url());
  }
  auto resources = parseJson(req.resources().value());
  if (!resources.ok() || !resources->is_object()) {
    co_return InvalidArgumentError("Update: LinuxResources is not a JSON object");
  }
  HCS_CO_RETURN_IF_ERROR((*t)->init->sm.check(ProcessOp::kInspect, req.id()));
  Status st = co_await (*t)->container->update(*resources);
  if (!st.ok()) co_return st;
  co_return Empty();
}

Task<StatusOr<UvmExecResult>> doExecInUvm(StateP s, std::string taskId, std::vector<std::string> args) {
  std::shared_ptr<TaskRecord> t;
  if (taskId.empty()) {
    if (s->tasks.empty()) co_return NotFoundError("the shim has no task");
    t = s->tasks.begin()->second;
  } else {
    auto found = findTask(*s, taskId);
    if (!found.ok()) co_return found.status();
    t = *found;
  }
  if (args.empty()) co_return InvalidArgumentError("args: a command is required");
  if (!t->vm) co_return FailedPreconditionError("task " + t->id + " has no utility VM");
  bridge::ProcessParameters pp;
  pp.commandArgs = std::move(args);
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
  UvmExecResult r;
  r.exitCode = code.ok() ? static_cast<int32_t>(*code) : -1;
  r.out = out.ok() ? *out : "";
  r.err = co_await err;
  co_return r;
}

Task<std::string> doGuestStacks(StateP s) {
  std::set<uvm::UtilityVM*> vms;
  for (auto& [id, t] : s->tasks) {
    if (t->vm) vms.insert(t->vm.get());
  }
  std::string guests;
  for (auto* vm : vms) {
    auto stacks = co_await vm->guest().dumpStacks();
    guests += "== " + vm->id() + " ==\n" + (stacks.ok() ? *stacks : stacks.status().toString() + "\n");
  }
  co_return guests;
}

}  // namespace

TaskModel::TaskModel(runtime::Runtime& rt, hcs::HcsApi& hcs, EventSink& events, ShimPlatform& platform, ShimConfig config)
    : s_(std::make_shared<ModelState>(rt, hcs, events, platform, std::move(config))) {}

TaskModel::~TaskModel() = default;

#define HCS_MODEL_CALL(Method, Resp, Req, fn) \
  TaskModel::Result<Resp> TaskModel::Method(Req req) { return fn(s_, std::move(req)); }
HCS_MODEL_CALL(create, taskv2::CreateTaskResponse, taskv2::CreateTaskRequest, doCreate)
HCS_MODEL_CALL(start, taskv2::StartResponse, taskv2::StartRequest, doStart)
HCS_MODEL_CALL(wait, taskv2::WaitResponse, taskv2::WaitRequest, doWait)
HCS_MODEL_CALL(state, taskv2::StateResponse, taskv2::StateRequest, doState)
HCS_MODEL_CALL(kill, Empty, taskv2::KillRequest, doKill)
HCS_MODEL_CALL(exec, Empty, taskv2::ExecProcessRequest, doExec)
HCS_MODEL_CALL(remove, taskv2::DeleteResponse, taskv2::DeleteRequest, doDelete)
HCS_MODEL_CALL(pids, taskv2::PidsResponse, taskv2::PidsRequest, doPids)
HCS_MODEL_CALL(resizePty, Empty, taskv2::ResizePtyRequest, doResizePty)
HCS_MODEL_CALL(closeIo, Empty, taskv2::CloseIORequest, doCloseIO)
HCS_MODEL_CALL(stats, taskv2::StatsResponse, taskv2::StatsRequest, doStats)
HCS_MODEL_CALL(update, Empty, taskv2::UpdateTaskRequest, doUpdate)
HCS_MODEL_CALL(connect, taskv2::ConnectResponse, taskv2::ConnectRequest, doConnect)
HCS_MODEL_CALL(shutdown, Empty, taskv2::ShutdownRequest, doShutdown)
#undef HCS_MODEL_CALL

TaskModel::Result<Empty> TaskModel::pause(taskv2::PauseRequest req) { return doPauseResume(s_, req.id(), true); }
TaskModel::Result<Empty> TaskModel::resume(taskv2::ResumeRequest req) { return doPauseResume(s_, req.id(), false); }

std::vector<TaskSummary> TaskModel::summaries() const {
  std::vector<TaskSummary> out;
  for (auto& [id, t] : s_->tasks) {
    TaskSummary info;
    info.id = id;
    info.vmId = t->vm ? t->vm->id() : "";
    info.pid = t->init->pid;
    info.status = stateName(t->init->sm.state());
    for (auto& [eid, e] : t->execs) info.execs.push_back(eid);
    out.push_back(std::move(info));
  }
  return out;
}

TaskModel::Result<UvmExecResult> TaskModel::execInUvm(std::string taskId, std::vector<std::string> args) {
  return doExecInUvm(s_, std::move(taskId), std::move(args));
}

Task<std::string> TaskModel::guestStacks() { return doGuestStacks(s_); }

bool TaskModel::done() const { return s_->done; }

void TaskModel::finish() {
  s_->done = true;
  s_->doneChanged.notifyAll();
}

Task<void> TaskModel::waitDone() {
  StateP s = s_;
  while (!s->done) co_await s->doneChanged.wait();
}

Task<void> TaskModel::closeAll() {
  StateP s = s_;
  auto tasks = std::move(s->tasks);
  s->tasks.clear();
  // Containers of a pod first, their sandboxes (which own the VMs) last.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& [id, t] : tasks) {
      bool member = !sandboxOf(t->spec).empty();
      if ((pass == 0) == member) co_await releaseTask(s, t);
    }
  }
}

Task<taskv2::DeleteResponse> cleanupAfterDeadShim(runtime::Runtime& rt, hcs::HcsApi* hcs, std::string taskId,
                                                   bool ownsVm) {
  if (ownsVm && hcs) {
    auto cs = co_await hcs::ComputeSystem::open(*hcs, rt.loop(), vmIdFor(taskId));
    if (cs.ok()) {
      Status st = co_await (*cs)->terminate();
      (*cs)->close();
      HLOG(Info, "shim.cleanup.vm_terminated").kv("task", taskId).kv("vm", vmIdFor(taskId)).kv("error", st.ok() ? "" : st.toString());
    } else {
      HLOG(Info, "shim.cleanup.no_vm").kv("task", taskId).kv("vm", vmIdFor(taskId)).kv("error", cs.status().toString());
    }
  }
  taskv2::DeleteResponse r;
  r.set_pid(0);
  r.set_exit_status(137);
  int64_t now = rt.loop().clock().wallNanos();
  r.mutable_exited_at()->set_seconds(now / 1000000000);
  r.mutable_exited_at()->set_nanos(static_cast<int32_t>(now % 1000000000));
  co_return r;
}

}  // namespace hcsshim::shim
