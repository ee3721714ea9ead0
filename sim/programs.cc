#include "sim/programs.h"

#include <signal.h>

#include "sim/network.h"
#include "sim/node.h"

namespace hcsshim::sim {

using runtime::ExitStatus;
using runtime::Task;

Task<int> ProgramContext::nextSignal() {
  while (signals.empty() && !killed_) co_await signalWaiters.wait();
  if (killed_) co_return 0;
  int s = signals.front();
  signals.pop_front();
  co_return s;
}

void SimProcessRunner::registerProgram(const std::string& name, Program program) {
  programs_[name] = std::move(program);
}

const Program* SimProcessRunner::find(const std::string& path) const {
  auto it = programs_.find(path);
  if (it == programs_.end()) {
    auto slash = path.rfind('/');
    if (slash != std::string::npos) it = programs_.find(path.substr(slash + 1));
  }
  return it == programs_.end() ? nullptr : &it->second;
}

namespace {

struct ProcState {
  int pid = 0;
  std::string name;
  std::optional<ExitStatus> exit;
  runtime::WaitList waiters;
  ProgramContext ctx;
};

void finish(World& world, ProcState& s, ExitStatus st) {
  if (s.exit) return;
  s.exit = st;
  world.trace(s.name, "exit code=" + std::to_string(st.exitCode) + " signal=" + std::to_string(st.signal));
  // The process's stdio ends close with it, so readers see EOF.
  for (auto* st : {&s.ctx.stdinStream, &s.ctx.stdoutStream, &s.ctx.stderrStream}) {
    if (*st) (*st)->close();
  }
  s.ctx.killed_ = s.ctx.killed_ || st.signaled();
  s.ctx.signalWaiters.notifyAll();
  s.waiters.notifyAll();
}

class SimProcess final : public runtime::Process {
 public:
  SimProcess(World& world, std::shared_ptr<ProcState> s, std::unique_ptr<runtime::Stream> in,
             std::unique_ptr<runtime::Stream> out, std::unique_ptr<runtime::Stream> err)
      : world_(world), s_(std::move(s)), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {}

  int pid() const override { return s_->pid; }
  runtime::Stream* stdinStream() override { return in_.get(); }
  runtime::Stream* stdoutStream() override { return out_.get(); }
  runtime::Stream* stderrStream() override { return err_.get(); }
  std::unique_ptr<runtime::Stream> takeStdio(int fd) override {
    switch (fd) {
      case 0: return std::move(in_);
      case 1: return std::move(out_);
      case 2: return std::move(err_);
      default: return nullptr;
    }
  }

  Status signal(int sig) override {
    if (s_->exit) return NotFoundError("process " + std::to_string(s_->pid) + " has exited");
    world_.trace(s_->name, "signal " + std::to_string(sig));
    if (sig == SIGKILL ||
        (!s_->ctx.handlesSignals && (sig == SIGTERM || sig == SIGINT || sig == SIGHUP))) {
      s_->ctx.killed_ = true;
      finish(world_, *s_, ExitStatus{128 + sig, sig});
      return OkStatus();
    }
    s_->ctx.signals.push_back(sig);
    s_->ctx.signalWaiters.notifyAll();
    return OkStatus();
  }

  Task<ExitStatus> wait() override { return waitImpl(s_); }
  std::optional<ExitStatus> exitStatus() const override { return s_->exit; }

 private:
  static Task<ExitStatus> waitImpl(std::shared_ptr<ProcState> s) {
    while (!s->exit) co_await s->waiters.wait();
    co_return *s->exit;
  }
  World& world_;
  std::shared_ptr<ProcState> s_;
  std::unique_ptr<runtime::Stream> in_, out_, err_;
};

class NodeProcessRunner final : public runtime::ProcessRunner {
 public:
  NodeProcessRunner(SimProcessRunner& programs, Node& parent) : programs_(programs), parent_(parent) {}

  StatusOr<std::unique_ptr<runtime::Process>> spawn(const runtime::ProcessSpec& spec) override {
    if (spec.path.empty()) return InvalidArgumentError("ProcessSpec.path is empty");
    const Program* program = programs_.find(spec.path);
    if (!program) return NotFoundError("exec " + spec.path + ": no such simulated program");
    World& world = programs_.world();
    auto s = std::make_shared<ProcState>();
    Node& child = world.addNode(spec.path.substr(spec.path.rfind('/') + 1));
    s->pid = child.credentials().pid;
    s->name = child.name();
    s->ctx.node = &child;
    s->ctx.args = spec.args.empty() ? std::vector<std::string>{spec.path} : spec.args;
    if (spec.env) s->ctx.env = *spec.env;
    std::unique_ptr<runtime::Stream> parentEnds[3];
    std::unique_ptr<runtime::Stream>* childEnds[3] = {&s->ctx.stdinStream, &s->ctx.stdoutStream,
                                                      &s->ctx.stderrStream};
    runtime::StdioMode modes[3] = {spec.stdinMode, spec.stdoutMode, spec.stderrMode};
    for (int i = 0; i < 3; ++i) {
      if (modes[i] != runtime::StdioMode::kPipe) continue;
      auto [p, c] = newStreamPair(world.network(), parent_, child);
      parentEnds[i] = std::move(p);
      *childEnds[i] = std::move(c);
    }
    parent_.trace("spawn " + s->name + " pid=" + std::to_string(s->pid));
    runtime::spawn([](const Program* program, std::shared_ptr<ProcState> s, World& world) -> Task<void> {
      int code = co_await (*program)(s->ctx);
      finish(world, *s, ExitStatus{code, 0});
    }(program, s, world));
    return std::unique_ptr<runtime::Process>(new SimProcess(world, s, std::move(parentEnds[0]),
                                                            std::move(parentEnds[1]), std::move(parentEnds[2])));
  }

 private:
  SimProcessRunner& programs_;
  Node& parent_;
};

}  // namespace

std::unique_ptr<runtime::ProcessRunner> SimProcessRunner::runnerFor(Node& parent) {
  return std::make_unique<NodeProcessRunner>(*this, parent);
}

}  // namespace hcsshim::sim
