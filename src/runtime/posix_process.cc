#include "src/runtime/posix_process.h"

#include <fcntl.h>
#include <signal.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "src/common/log.h"
#include "src/runtime/fd_stream.h"
#include "src/runtime/unique_fd.h"

extern char** environ;

namespace hcsshim::runtime {
namespace {

// cloneIsolated forks into new pid/mount/UTS/IPC (and network) namespaces
// (clone3 has no glibc wrapper). Returns -1 with errno set when not permitted.
pid_t cloneIsolated(bool network) {
  struct clone_args args {};
  args.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (network ? CLONE_NEWNET : 0);
  args.exit_signal = SIGCHLD;
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
}

int pidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfdSendSignal(int pidfd, int sig) { return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

}  // namespace

struct PosixProcessState {
  EpollEventLoop* loop;
  pid_t pid;
  int pidfd;
  std::shared_ptr<FdWatch> watch;
  std::optional<ExitStatus> exit;
  WaitList waiters;
  bool isolated = false;
  std::weak_ptr<std::set<pid_t>> tracked;  // the runner's registry of live children
};

namespace {

class PosixProcess final : public Process {
 public:
  using State = PosixProcessState;
  std::shared_ptr<State> state() const { return s_; }

  PosixProcess(std::shared_ptr<State> s, std::unique_ptr<FdStream> in, std::unique_ptr<FdStream> out,
               std::unique_ptr<FdStream> err, std::unique_ptr<FdStream> tty, int ttyControlFd)
      : s_(std::move(s)),
        stdin_(std::move(in)),
        stdout_(std::move(out)),
        stderr_(std::move(err)),
        tty_(std::move(tty)),
        ttyControlFd_(ttyControlFd) {}

  ~PosixProcess() override {
    if (ttyControlFd_ >= 0) ::close(ttyControlFd_);
    // Dropping a Process does not kill it: the child is reaped when it exits
    // (the watch stays registered until then) unless the loop goes first.
    if (!s_->exit && s_->watch && !s_->watch->closed()) return;
    releasePidfd(*s_);
  }

  int pid() const override { return s_->pid; }
  Stream* stdinStream() override { return stdin_.get(); }
  Stream* stdoutStream() override { return stdout_.get(); }
  Stream* stderrStream() override { return stderr_.get(); }
  std::unique_ptr<Stream> takeStdio(int fd) override {
    switch (fd) {
      case 0: return std::move(stdin_);
      case 1: return std::move(stdout_);
      case 2: return std::move(stderr_);
      case 3: return std::move(tty_);
      default: return nullptr;
    }
  }
  Stream* terminalStream() override { return tty_.get(); }
  Status resizeTerminal(uint16_t rows, uint16_t columns) override {
    // Through a duplicate of the master, so resizing works after the stream
    // itself was handed to someone else.
    if (ttyControlFd_ < 0) return UnimplementedError("the process has no terminal");
    struct winsize ws {};
    ws.ws_row = rows;
    ws.ws_col = columns;
    if (ioctl(ttyControlFd_, TIOCSWINSZ, &ws) < 0) return errnoStatus(errno, "ioctl(TIOCSWINSZ)");
    return OkStatus();
  }

  Status signal(int sig) override {
    if (s_->exit || s_->pidfd < 0) return NotFoundError("process " + std::to_string(s_->pid) + " has exited");
    if (pidfdSendSignal(s_->pidfd, sig) < 0) return errnoStatus(errno, "pidfd_send_signal", std::to_string(s_->pid));
    return OkStatus();
  }

  Task<ExitStatus> wait() override { return waitImpl(s_); }
  std::optional<ExitStatus> exitStatus() const override { return s_->exit; }
  bool isolated() const override { return s_->isolated; }

  static void onPidfdEvent(const std::shared_ptr<State>& s) {
    if (s->exit) return;
    siginfo_t info{};
    if (waitid(P_PIDFD, static_cast<id_t>(s->pidfd), &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0) return;
    ExitStatus st;
    if (info.si_code == CLD_EXITED) {
      st.exitCode = info.si_status;
    } else {
      st.signal = info.si_status;
      st.exitCode = 128 + info.si_status;
    }
    s->exit = st;
    if (auto t = s->tracked.lock()) t->erase(s->pid);
    HLOG(Debug, "process.exited").kv("pid", s->pid).kv("exit_code", st.exitCode).kv("signal", st.signal);
    releasePidfd(*s);
    s->watch->setOnEvent(nullptr);
    s->waiters.notifyAll();
  }

 private:
  static void releasePidfd(State& s) {
    if (s.pidfd < 0) return;
    s.loop->unwatch(s.watch);
    ::close(s.pidfd);
    s.pidfd = -1;
  }
  static Task<ExitStatus> waitImpl(std::shared_ptr<State> s) {
    while (!s->exit) co_await s->waiters.wait();
    co_return *s->exit;
  }

  std::shared_ptr<State> s_;
  std::unique_ptr<FdStream> stdin_, stdout_, stderr_, tty_;
  int ttyControlFd_ = -1;
};

// makePipe: a close-on-exec pipe.
Status makePipe(FdPair& p) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return errnoStatus(errno, "pipe2");
  p.read.reset(fds[0]);
  p.write.reset(fds[1]);
  return OkStatus();
}

// What the child reports through its error pipe when it cannot exec: the
// step that failed and errno.
enum class ChildStep : int { kNamespaces = 1, kTerminal, kStdio, kExtraFds, kCgroup, kCwd, kExec, kSetup };

const char* stepName(ChildStep s) {
  switch (s) {
    case ChildStep::kNamespaces: return "joining namespaces";
    case ChildStep::kTerminal: return "setting up the terminal";
    case ChildStep::kStdio: return "setting up stdio";
    case ChildStep::kExtraFds: return "passing descriptors";
    case ChildStep::kCgroup: return "joining a cgroup";
    case ChildStep::kCwd: return "changing directory";
    case ChildStep::kExec: return "exec";
    case ChildStep::kSetup: return "setting up the child";
  }
  return "starting";
}

struct ChildError {
  int step = 0;
  int err = 0;
};

}  // namespace

// spawn prepares everything the child needs before fork (after fork only
// async-signal-safe calls are allowed); every descriptor is owned by a
// UniqueFd, so each early return closes what was opened.
StatusOr<std::unique_ptr<Process>> PosixProcessRunner::spawn(const ProcessSpec& spec) {
  if (spec.path.empty()) return InvalidArgumentError("ProcessSpec.path is empty");
  for (int fd : spec.extraFds) {
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) return InvalidArgumentError("ProcessSpec.extraFds: " + std::to_string(fd) + " is not an open descriptor");
  }
  if (spec.terminal && !spec.extraFds.empty()) return InvalidArgumentError("ProcessSpec: extraFds with a terminal");
  // Staging slots above every target (3 .. 3+n-1), so that moving one
  // descriptor into place never overwrites another still to be moved.
  const int extraCount = static_cast<int>(spec.extraFds.size());
  std::vector<int> staged(spec.extraFds.size(), -1);
  std::vector<std::string> args = spec.args.empty() ? std::vector<std::string>{spec.path} : spec.args;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> cgroupProcs;
  for (const auto& dir : spec.cgroups) cgroupProcs.push_back(dir + "/cgroup.procs");
  std::vector<std::string> envStrings;
  std::vector<char*> envp;
  char** envArg = environ;
  if (spec.env) {
    for (auto& [k, v] : *spec.env) envStrings.push_back(k + "=" + v);
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);
    envArg = envp.data();
  }

  // stdio: for each of 0..2, the child's descriptor and (kPipe) ours.
  UniqueFd childFd[3], parentFd[3];
  StdioMode modes[3] = {spec.stdinMode, spec.stdoutMode, spec.stderrMode};
  if (!spec.terminal) {
    for (int i = 0; i < 3; ++i) {
      if (modes[i] == StdioMode::kPipe) {
        FdPair p;
        HCS_RETURN_IF_ERROR(makePipe(p));
        // stdin: the child reads; stdout/stderr: the child writes.
        childFd[i] = i == 0 ? std::move(p.read) : std::move(p.write);
        parentFd[i] = i == 0 ? std::move(p.write) : std::move(p.read);
      } else if (modes[i] == StdioMode::kNull) {
        childFd[i].reset(open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
        if (!childFd[i]) return errnoStatus(errno, "open(/dev/null)");
      }
    }
  }
  UniqueFd ptyMaster;
  char ptySlave[128] = {0};
  if (spec.terminal) {
    // One terminal replaces all stdio.
    ptyMaster.reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    struct winsize ws {};
    ws.ws_row = spec.terminalRows;
    ws.ws_col = spec.terminalColumns;
    if (!ptyMaster || grantpt(ptyMaster.get()) < 0 || unlockpt(ptyMaster.get()) < 0 ||
        ptsname_r(ptyMaster.get(), ptySlave, sizeof ptySlave) != 0 || ioctl(ptyMaster.get(), TIOCSWINSZ, &ws) < 0) {
      return errnoStatus(errno, "posix_openpt");
    }
  }
  FdPair errPipe;
  HCS_RETURN_IF_ERROR(makePipe(errPipe));

  // Joining another process's namespaces: open them now (setns in the child).
  bool joining = spec.joinNamespacesOf > 0;
  UniqueFd nsFds[4];
  FdPair pidPipe;
  if (joining) {
    // Order matters: the pid namespace last (it only applies to children).
    const char* kinds[4] = {"ipc", "uts", "mnt", "pid"};
    for (int i = 0; i < 4; ++i) {
      std::string path = "/proc/" + std::to_string(spec.joinNamespacesOf) + "/ns/" + kinds[i];
      nsFds[i].reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!nsFds[i]) return errnoStatus(errno, "open", path);
    }
    HCS_RETURN_IF_ERROR(makePipe(pidPipe));
  }

  pid_t parentPid = getpid();
  bool isolated = false;
  pid_t pid = -1;
  if (spec.isolate && !joining) {
    pid = cloneIsolated(spec.isolateNetwork);
    isolated = pid >= 0;
    if (pid < 0) {
      static bool warned = false;
      if (!warned) {
        warned = true;
        HLOG(Warn, "process.isolation_unavailable").kv("err", errnoStatus(errno, "clone3"));
      }
    }
  }
  if (pid < 0) pid = fork();
  if (pid < 0) return errnoStatus(errno, "fork", spec.path);
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ChildStep step = ChildStep::kNamespaces;
    if (joining) {
      for (auto& fd : nsFds) {
        if (setns(fd.get(), 0) < 0) goto fail;
      }
      // The pid namespace applies to our children: start the real child as a
      // sibling (CLONE_PARENT), so the runner stays its parent and reaps it.
      struct clone_args a {};
      a.flags = CLONE_PARENT;
      pid_t grandchild = static_cast<pid_t>(syscall(SYS_clone3, &a, sizeof a));
      if (grandchild < 0) goto fail;
      if (grandchild > 0) {
        (void)!::write(pidPipe.write.get(), &grandchild, sizeof grandchild);
        _exit(0);
      }
    }
    step = ChildStep::kSetup;
    if (spec.killOnParentDeath) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // In a new or joined pid namespace the parent is invisible (getppid() == 0).
      if (getppid() != ((isolated || joining) ? 0 : parentPid)) _exit(127);
    }
    if (isolated) {
      // Our own /proc, without touching the host's mounts.
      if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) goto fail;
      if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0) goto fail;
    }
    {
      sigset_t all;
      sigemptyset(&all);
      sigprocmask(SIG_SETMASK, &all, nullptr);
    }
    signal(SIGPIPE, SIG_DFL);
    if (spec.newSession || spec.terminal) setsid();
    if (spec.terminal) {
      step = ChildStep::kTerminal;
      int slave = open(ptySlave, O_RDWR);
      if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) goto fail;
      for (int i = 0; i < 3; ++i) {
        if (dup2(slave, i) < 0) goto fail;
      }
      if (slave > 2) ::close(slave);
    }
    step = ChildStep::kStdio;
    for (int i = 0; i < 3; ++i) {
      if (childFd[i] && dup2(childFd[i].get(), i) < 0) goto fail;
    }
    step = ChildStep::kExtraFds;
    for (int i = 0; i < extraCount; ++i) {
      staged[i] = fcntl(spec.extraFds[i], F_DUPFD_CLOEXEC, 3 + extraCount);
      if (staged[i] < 0) goto fail;
    }
    for (int i = 0; i < extraCount; ++i) {
      if (dup2(staged[i], 3 + i) < 0) goto fail;  // the new descriptor is not close-on-exec
      ::close(staged[i]);
    }
    step = ChildStep::kCgroup;
    for (const auto& procs : cgroupProcs) {
      int cg = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (cg < 0 || ::write(cg, "0", 1) != 1) goto fail;  // "0": the writing process itself
      ::close(cg);
    }
    step = ChildStep::kCwd;
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) < 0) goto fail;
    step = ChildStep::kExec;
    execvpe(spec.path.c_str(), argv.data(), envArg);
  fail:
    ChildError e{static_cast<int>(step), errno};
    (void)!::write(errPipe.write.get(), &e, sizeof e);
    _exit(127);
  }
  // Parent: the child's ends are the child's now.
  errPipe.write.reset();
  for (auto& fd : childFd) fd.reset();
  if (joining) {
    for (auto& fd : nsFds) fd.reset();
    pidPipe.write.reset();
    pid_t grandchild = -1;
    ssize_t r;
    do {
      r = ::read(pidPipe.read.get(), &grandchild, sizeof grandchild);
    } while (r < 0 && errno == EINTR);
    waitpid(pid, nullptr, 0);  // the short-lived intermediate
    pid = r == sizeof grandchild ? grandchild : -1;
  }
  ChildError childErr;
  ssize_t n;
  do {
    n = ::read(errPipe.read.get(), &childErr, sizeof childErr);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof childErr || pid < 0) {
    if (pid > 0) waitpid(pid, nullptr, 0);
    if (n != sizeof childErr) return errnoStatus(ECHILD, "starting", spec.path);
    ChildStep step = static_cast<ChildStep>(childErr.step);
    // exec's own failure keeps its plain form (callers match "exec(path)").
    return errnoStatus(childErr.err, step == ChildStep::kExec ? "exec" : stepName(step), spec.path);
  }

  auto tracked = track(pid, isolated || joining);
  if (!tracked.ok()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return tracked.status();
  }
  auto state = std::move(*tracked);

  std::unique_ptr<FdStream> streams[3];
  const char* names[3] = {"stdin", "stdout", "stderr"};
  FdStream::Kind kinds[3] = {FdStream::Kind::kPipeWrite, FdStream::Kind::kPipeRead, FdStream::Kind::kPipeRead};
  for (int i = 0; i < 3; ++i) {
    if (!parentFd[i]) continue;
    auto st = FdStream::create(loop_, parentFd[i].release(), kinds[i], "pid" + std::to_string(pid) + ":" + names[i]);
    if (!st.ok()) {
      kill(pid, SIGKILL);
      return st.status();
    }
    streams[i] = std::move(*st);
  }
  std::unique_ptr<FdStream> tty;
  UniqueFd ttyControl;
  if (ptyMaster) {
    ttyControl.reset(fcntl(ptyMaster.get(), F_DUPFD_CLOEXEC, 0));
    auto st = FdStream::create(loop_, ptyMaster.release(), FdStream::Kind::kPtyMaster, "pid" + std::to_string(pid) + ":tty");
    if (!st.ok()) {
      kill(pid, SIGKILL);
      return st.status();
    }
    tty = std::move(*st);
  }
  HLOG(Debug, "process.spawned").kv("pid", pid).kv("path", spec.path).kv("terminal", spec.terminal);
  return std::unique_ptr<Process>(new PosixProcess(std::move(state), std::move(streams[0]), std::move(streams[1]),
                                                   std::move(streams[2]), std::move(tty), ttyControl.release()));
}

StatusOr<std::shared_ptr<PosixProcessState>> PosixProcessRunner::track(int pid, bool isolated) {
  auto state = std::make_shared<PosixProcessState>();
  state->loop = &loop_;
  state->pid = pid;
  state->isolated = isolated;
  state->pidfd = pidfdOpen(pid);
  if (state->pidfd < 0) return errnoStatus(errno, "pidfd_open", std::to_string(pid));
  fcntl(state->pidfd, F_SETFD, FD_CLOEXEC);
  auto watch = loop_.watchFd(state->pidfd);
  if (!watch.ok()) {
    ::close(state->pidfd);
    return watch.status();
  }
  state->watch = *watch;
  state->tracked = tracked_;
  tracked_->insert(pid);
  // The callback keeps the state alive until the exit is seen, even if the
  // Process object is dropped; onPidfdEvent breaks the cycle.
  state->watch->setOnEvent([state](uint32_t) { PosixProcess::onPidfdEvent(state); });
  return state;
}

StatusOr<std::unique_ptr<Process>> PosixProcessRunner::adopt(int pid) {
  if (pid <= 0) return InvalidArgumentError("adopt: bad pid " + std::to_string(pid));
  // Only a child can be waited for: refuse anything else up front.
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
    if (errno == ECHILD) {
      return FailedPreconditionError("adopt: pid " + std::to_string(pid) + " is not a child of this process");
    }
    return errnoStatus(errno, "adopt: waitid", std::to_string(pid));
  }
  HCS_ASSIGN_OR_RETURN(auto state, track(pid, false));
  HLOG(Debug, "process.adopted").kv("pid", pid);
  auto p = std::unique_ptr<Process>(new PosixProcess(std::move(state), nullptr, nullptr, nullptr, nullptr, -1));
  // It may have exited already (a zombie): the pidfd is readable at once, but
  // an edge registered after the fact is not guaranteed - look now.
  PosixProcess::onPidfdEvent(static_cast<PosixProcess*>(p.get())->state());
  return p;
}

Status becomeChildSubreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return errnoStatus(errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  return OkStatus();
}

size_t PosixProcessRunner::reapOrphans() {
  // Children of any of our threads, read from /proc (no waitid(P_ALL), which
  // could take a tracked child's exit status from its owner).
  std::set<pid_t> zombies;
  if (DIR* tasks = opendir("/proc/self/task")) {
    while (dirent* t = readdir(tasks)) {
      if (t->d_name[0] == '.') continue;
      std::ifstream in(std::string("/proc/self/task/") + t->d_name + "/children");
      pid_t child;
      while (in >> child) {
        if (tracked_->count(child)) continue;
        std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
        std::string line;
        std::getline(stat, line);
        auto close = line.rfind(')');
        if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') zombies.insert(child);
      }
    }
    closedir(tasks);
  }
  // A zombie is reaped the second time it is seen untracked: a process that
  // was just reparented to us gets one reaper period to be adopted.
  size_t reaped = 0;
  std::set<pid_t> next;
  for (pid_t z : zombies) {
    if (!orphanCandidates_.count(z)) {
      next.insert(z);
      continue;
    }
    if (waitpid(z, nullptr, WNOHANG) == z) {
      ++reaped;
      HLOG(Debug, "process.orphan_reaped").kv("pid", z);
    }
  }
  orphanCandidates_ = std::move(next);
  return reaped;
}

}  // namespace hcsshim::runtime
