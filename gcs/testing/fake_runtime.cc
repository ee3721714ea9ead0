#include "gcs/testing/fake_runtime.h"

#include <signal.h>

#include "src/runtime/read_file.h"

namespace hcsshim::gcs {

using runtime::Task;

// The shared state of one fake process (the runtime's view and the agent's).
struct FakeProcessState {
  int pid = 0;
  std::vector<std::string> args;
  std::string netns;  // the network namespace file it joined ("" = its own, only lo)
  bool terminal = false;
  bool started = false;
  std::optional<runtime::ExitStatus> exit;
  runtime::WaitList changed;            // started, exited, signalled
  std::vector<int> pendingSignals;      // delivered while frozen
  std::shared_ptr<runtime::Stream> in, out, err;  // the process's own ends
  std::unique_ptr<runtime::Stream> parentIn, parentOut, parentErr, parentTty;
};

struct FakeContainerRuntime::Container {
  std::string id, bundle;
  std::string netns;  // linux.namespaces' network path
  std::shared_ptr<FakeProcessState> init;
  std::vector<std::shared_ptr<FakeProcessState>> execs;
  bool deleted = false;
};

namespace {

// deliver: signal `sig` reaches the process. cat does not catch signals,
// so one ends it even while it waits for input (its stdin closes under it);
// sleep's program notices them itself.
void deliver(FakeProcessState& s, int sig) {
  s.pendingSignals.push_back(sig);
  std::string name = s.args.empty() ? "" : s.args[0].substr(s.args[0].rfind('/') + 1);
  if (name == "cat" && s.in) s.in->close();
  s.changed.notifyAll();
}

class FakeProcess final : public ContainerProcess {
 public:
  explicit FakeProcess(std::shared_ptr<FakeProcessState> s) : s_(std::move(s)) {}
  int pid() const override { return s_->pid; }
  Task<runtime::ExitStatus> wait() override {
    std::shared_ptr<FakeProcessState> s = s_;
    while (!s->exit) co_await s->changed.wait();
    co_return *s->exit;
  }
  std::optional<runtime::ExitStatus> exitStatus() const override { return s_->exit; }
  Status signal(int sig) override {
    if (s_->exit) return NotFoundError("process " + std::to_string(s_->pid) + " has exited");
    if (sig < 1 || sig > 64) return InvalidArgumentError("signal " + std::to_string(sig));
    deliver(*s_, sig);
    return OkStatus();
  }
  Status resize(uint16_t, uint16_t) override {
    if (!s_->terminal) return InvalidArgumentError("process " + std::to_string(s_->pid) + " has no terminal");
    return OkStatus();
  }
  std::unique_ptr<runtime::Stream> takeStdio(int fd) override {
    switch (fd) {
      case 0: return std::move(s_->parentIn);
      case 1: return std::move(s_->parentOut);
      case 2: return std::move(s_->parentErr);
      case 3: return std::move(s_->parentTty);
      default: return nullptr;
    }
  }

 private:
  std::shared_ptr<FakeProcessState> s_;
};

Task<StatusOr<std::pair<std::unique_ptr<runtime::Stream>, std::unique_ptr<runtime::Stream>>>> streamPair(
    runtime::Transport& t, std::string address) {
  auto l = t.listen(address);
  if (!l.ok()) co_return l.status();
  auto c = co_await t.connect(address);
  if (!c.ok()) co_return c.status();
  auto a = co_await (*l)->accept();
  (*l)->close();
  if (!a.ok()) co_return a.status();
  co_return std::make_pair(std::move(*c), std::move(*a));
}

bool known(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  static const std::set<std::string> programs = {"echo", "exit", "true", "false", "sleep", "cat", "ip"};
  std::string name = args[0].substr(args[0].rfind('/') + 1);
  return programs.count(name) > 0;
}

// runProgram: what the process does once started (frozen: nothing).
Task<void> runProgram(std::shared_ptr<FakeProcessState> s, std::shared_ptr<bool> frozen,
                      std::shared_ptr<runtime::WaitList> thawed) {
  auto waitThawed = [&]() -> Task<void> {
    while (*frozen) co_await thawed->wait();
  };
  while (!s->started) co_await s->changed.wait();
  co_await waitThawed();
  std::string name = s->args[0].substr(s->args[0].rfind('/') + 1);
  int code = 0;
  auto write = [&](std::string text) -> Task<void> {
    if (s->out) (void)co_await s->out->write(text);
  };
  if (name == "echo") {
    std::string line;
    for (size_t i = 1; i < s->args.size(); ++i) line += (i > 1 ? " " : "") + s->args[i];
    co_await write(line + "\n");
  } else if (name == "exit") {
    code = s->args.size() > 1 ? std::atoi(s->args[1].c_str()) : 0;
  } else if (name == "false") {
    code = 1;
  } else if (name == "ip") {
    std::string links = "lo\n";
    if (!s->netns.empty()) links += runtime::readFile(s->netns, 1 << 20).value_or("");
    co_await write(links);
  } else if (name == "cat" && s->in) {
    char buf[4096];
    for (;;) {
      auto n = co_await s->in->read(std::span<char>(buf, sizeof buf));
      if (!n.ok() || *n == 0) break;
      co_await waitThawed();
      co_await write(std::string(buf, *n));
    }
  } else if (name == "sleep" || name == "cat") {
    // Until a signal arrives (a frozen process does not see it until thawed).
    for (;;) {
      co_await waitThawed();
      if (!s->pendingSignals.empty()) break;
      co_await s->changed.wait();
    }
  }
  co_await waitThawed();
  runtime::ExitStatus st{code, 0};
  if (!s->pendingSignals.empty() && (name == "sleep" || name == "cat")) {
    st = runtime::ExitStatus{128 + s->pendingSignals.front(), s->pendingSignals.front()};
  }
  if (s->exit) co_return;  // a signal ended it meanwhile
  for (auto* end : {&s->out, &s->err}) {
    if (*end) (void)(*end)->shutdownWrite();
  }
  s->exit = st;
  s->changed.notifyAll();
}

// signalWatcher: a signal to a process whose program does not wait for one
// (echo, exit) ends it too, as soon as it is thawed.
Task<void> signalWatcher(std::shared_ptr<FakeProcessState> s, std::shared_ptr<bool> frozen,
                         std::shared_ptr<runtime::WaitList> thawed) {
  while (!s->exit && s->pendingSignals.empty()) co_await s->changed.wait();
  while (*frozen) co_await thawed->wait();
  if (s->exit) co_return;
  std::string name = s->args[0].substr(s->args[0].rfind('/') + 1);
  if (name == "sleep" || name == "cat") co_return;  // their program handles it
  int sig = s->pendingSignals.front();
  for (auto* end : {&s->out, &s->err}) {
    if (*end) (void)(*end)->shutdownWrite();
  }
  s->exit = runtime::ExitStatus{128 + sig, sig};
  s->changed.notifyAll();
}

}  // namespace

FakeContainerRuntime::FakeContainerRuntime(runtime::Runtime& rt, std::string prefix)
    : rt_(rt), prefix_(std::move(prefix)), frozen_(std::make_shared<bool>(false)),
      thawed_(std::make_shared<runtime::WaitList>()) {}

FakeContainerRuntime::~FakeContainerRuntime() = default;

void FakeContainerRuntime::setFrozen(bool frozen) {
  *frozen_ = frozen;
  if (!frozen) thawed_->notifyAll();
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> FakeContainerRuntime::spawnProcess(std::shared_ptr<Container> c,
                                                                                     Json process, StdioSpec stdio,
                                                                                     bool startNow) {
  auto s = std::make_shared<FakeProcessState>();
  s->pid = nextPid_++;
  s->terminal = stdio.terminal;
  s->netns = c->netns;
  if (process.is_object() && process.contains("args") && process["args"].is_array()) {
    for (const auto& a : process["args"]) {
      if (a.is_string()) s->args.push_back(a.get<std::string>());
    }
  }
  if (!known(s->args)) {
    co_return NotFoundError("runc: exec: \"" + (s->args.empty() ? std::string() : s->args[0]) +
                            "\": executable file not found in $PATH");
  }
  auto pair = [&](std::unique_ptr<runtime::Stream>& parent, std::shared_ptr<runtime::Stream>& child) -> Task<Status> {
    auto p = co_await streamPair(rt_.transport(), prefix_ + std::to_string(++nextStream_));
    if (!p.ok()) co_return p.status();
    parent = std::move(p->first);
    child = std::move(p->second);
    co_return OkStatus();
  };
  if (stdio.terminal) {
    // One stream for both directions, as a pty master.
    HCS_CO_RETURN_IF_ERROR(co_await pair(s->parentTty, s->out));
    s->in = s->out;
  } else {
    if (stdio.in) HCS_CO_RETURN_IF_ERROR(co_await pair(s->parentIn, s->in));
    if (stdio.out) HCS_CO_RETURN_IF_ERROR(co_await pair(s->parentOut, s->out));
    if (stdio.err) HCS_CO_RETURN_IF_ERROR(co_await pair(s->parentErr, s->err));
  }
  s->started = startNow;
  if (!c->init) {
    c->init = s;
  } else {
    c->execs.push_back(s);
  }
  runtime::spawn(runProgram(s, frozen_, thawed_));
  runtime::spawn(signalWatcher(s, frozen_, thawed_));
  co_return std::unique_ptr<ContainerProcess>(new FakeProcess(s));
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> FakeContainerRuntime::create(std::string id, std::string bundle,
                                                                              StdioSpec stdio) {
  if (containers_.count(id)) co_return AlreadyExistsError("runc: container with id " + id + " already exists");
  auto text = runtime::readFile(bundle + "/config.json", 16 << 20);
  if (!text) co_return NotFoundError("runc: " + bundle + "/config.json: no such file");
  auto spec = parseJson(*text);
  if (!spec.ok() || !spec->is_object()) co_return InvalidArgumentError("runc: config.json: " + spec.status().message());
  auto c = std::make_shared<Container>();
  c->id = id;
  c->bundle = bundle;
  const Json* linux = spec->contains("linux") ? &(*spec)["linux"] : nullptr;
  if (linux && linux->is_object() && linux->contains("namespaces") && (*linux)["namespaces"].is_array()) {
    for (const Json& n : (*linux)["namespaces"]) {
      if (!n.is_object() || !n.contains("type") || n["type"] != "network" || !n.contains("path")) continue;
      if (!n["path"].is_string() || !runtime::readFile(n["path"].get<std::string>(), 1 << 20)) {
        co_return NotFoundError("runc: joining the network namespace " + n["path"].dump() + ": no such file or directory");
      }
      c->netns = n["path"].get<std::string>();
    }
  }
  Json process = spec->value("process", Json::object());
  auto p = co_await spawnProcess(c, process, stdio, false);
  if (!p.ok()) co_return p.status();
  containers_[id] = c;
  co_return p;
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> FakeContainerRuntime::run(std::string id, std::string bundle,
                                                                           StdioSpec stdio) {
  auto p = co_await create(id, bundle, stdio);
  if (!p.ok()) co_return p.status();
  HCS_CO_RETURN_IF_ERROR(co_await start(id));
  co_return p;
}

Task<Status> FakeContainerRuntime::start(std::string id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) co_return NotFoundError("runc: container " + id + " does not exist");
  std::shared_ptr<Container> c = it->second;
  auto& init = *c->init;
  if (init.started) co_return FailedPreconditionError("runc: cannot start a container that has stopped or is running");
  init.started = true;
  init.changed.notifyAll();
  // runc start returns once the init has opened its exec.fifo in the
  // container's state directory: the init already runs (a short one may
  // have exited), and a state deleted meanwhile makes runc start fail.
  co_await runtime::sleep(rt_.loop(), std::chrono::microseconds(50 + rt_.random().uniform(2000)));
  if (c->deleted) co_return NotFoundError("runc: open /run/runc/" + id + "/exec.fifo: no such file or directory");
  co_return OkStatus();
}

Task<StatusOr<std::unique_ptr<ContainerProcess>>> FakeContainerRuntime::exec(std::string id, Json ociProcess,
                                                                            StdioSpec stdio) {
  auto it = containers_.find(id);
  if (it == containers_.end()) co_return NotFoundError("runc: container " + id + " does not exist");
  auto& init = *it->second->init;
  if (!init.started || init.exit) co_return FailedPreconditionError("runc: cannot exec in a stopped container");
  co_return co_await spawnProcess(it->second, std::move(ociProcess), stdio, true);
}

Task<Status> FakeContainerRuntime::update(std::string id, Json resources) {
  if (!containers_.count(id)) co_return NotFoundError("runc: container " + id + " does not exist");
  updates_[id].push_back(std::move(resources));
  co_return OkStatus();
}

Task<Status> FakeContainerRuntime::remove(std::string id, bool force) {
  auto it = containers_.find(id);
  if (it == containers_.end()) co_return NotFoundError("runc: container " + id + " does not exist");
  auto c = it->second;
  auto running = [&] { return c->init->started && !c->init->exit; };
  if (running() && !force) co_return FailedPreconditionError("runc: cannot delete container " + id + " that is not stopped");
  for (auto& p : c->execs) {
    if (!p->exit) deliver(*p, SIGKILL);
  }
  if (!c->init->exit) {
    c->init->started = true;  // a created init is killed too
    deliver(*c->init, SIGKILL);
  }
  c->deleted = true;
  containers_.erase(it);
  co_return OkStatus();
}

void FakeContainerRuntime::killAll() {
  setFrozen(false);
  for (auto& [id, c] : containers_) {
    std::vector<std::shared_ptr<FakeProcessState>> procs = c->execs;
    if (c->init) procs.push_back(c->init);
    for (auto& p : procs) {
      if (p->exit) continue;
      p->started = true;
      if (p->in) p->in->close();  // whatever it reads ends
      deliver(*p, SIGKILL);
    }
  }
}

Task<StatusOr<std::vector<int>>> FakeContainerRuntime::pids(std::string id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) co_return NotFoundError("runc: container " + id + " does not exist");
  std::vector<int> out;
  if (!it->second->init->exit) out.push_back(it->second->init->pid);
  for (auto& p : it->second->execs) {
    if (!p->exit) out.push_back(p->pid);
  }
  co_return out;
}

bool FakeContainerRuntime::exists(const std::string& id) const { return containers_.count(id) > 0; }

Status FakeMounter::mount(const std::string& source, const std::string& target, const std::string& fstype,
                          unsigned long, const std::string&) {
  mounted_[target] = fstype.empty() ? "bind " + source : fstype;
  return OkStatus();
}

Status FakeMounter::unmount(const std::string& target) {
  if (!mounted_.erase(target)) return NotFoundError("nothing is mounted at " + target);
  return OkStatus();
}

Status FakeMounter::mountImage(const std::string& image, const std::string& target, const std::string& fstype, bool,
                               uint64_t, uint64_t) {
  mounted_[target] = fstype + " " + image;
  return OkStatus();
}

Status FakeMounter::mount9p(uint32_t port, const std::string& share, const std::string& target, bool) {
  mounted_[target] = "9p " + share + " port " + std::to_string(port);
  return OkStatus();
}

}  // namespace hcsshim::gcs
