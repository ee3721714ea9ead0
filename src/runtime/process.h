// process.h: the process seam (spawn with stdio, exit notification, signals).
//
// Real implementation: PosixProcessRunner (fork/exec, pidfd in epoll). The
// simulator's implementation runs registered in-process programs with
// simulated stdio, so a whole host+guest stack can run in one thread.
//
//   ProcessSpec spec{.path = "/bin/sh", .args = {"sh", "-c", "echo hi"}, .stdoutMode = StdioMode::kPipe};
//   HCS_CO_ASSIGN_OR_RETURN(auto proc, runner.spawn(spec));
//   std::string out = ...read proc->stdoutStream()...;
//   ExitStatus st = co_await proc->wait();
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/task.h"
#include "src/runtime/transport.h"

namespace hcsshim::runtime {

enum class StdioMode {
  kInherit,  // the child shares the parent's descriptor
  kNull,     // /dev/null
  kPipe,     // a pipe; the parent's end is a Stream on the Process
};

struct ProcessSpec {
  std::string path;                  // absolute path, or a name looked up in PATH
  std::vector<std::string> args;     // argv, including argv[0]
  std::optional<std::map<std::string, std::string>> env;  // nullopt = inherit
  std::string cwd;                   // empty = inherit
  StdioMode stdinMode = StdioMode::kNull;
  StdioMode stdoutMode = StdioMode::kInherit;
  StdioMode stderrMode = StdioMode::kInherit;
  bool newSession = false;           // setsid() in the child
  bool killOnParentDeath = true;     // PR_SET_PDEATHSIG(SIGKILL)
  // terminal: run the child on a new pseudo-terminal (its controlling tty,
  // stdin/stdout/stderr); the *Mode fields are then ignored and the parent
  // gets the master side as terminalStream(). Size in rows x columns.
  bool terminal = false;
  uint16_t terminalRows = 24;
  uint16_t terminalColumns = 80;
  // isolate: start the child in new pid, mount, UTS and IPC namespaces (it is
  // PID 1 there, with its own /proc) where the kernel and privileges allow;
  // otherwise it runs unisolated (Process::isolated() says which).
  bool isolate = false;
  // isolateNetwork (with isolate): a new network namespace too (only a
  // loopback device; a utility VM's own network stack in simulation).
  bool isolateNetwork = false;
  // joinNamespacesOf: start the child inside the pid, mount, UTS and IPC
  // namespaces of that (isolated) process - another process of the same
  // container. The child stays this process's child, so its exit is seen.
  int joinNamespacesOf = 0;
  // extraFds: descriptors the child inherits as fds 3, 4, ... in this order
  // (a logging binary's pipes). The caller keeps, and closes, its copies.
  std::vector<int> extraFds;
  // cgroups: cgroup directories the child joins before it execs (it writes
  // itself into each one's cgroup.procs), so that every process it ever
  // starts is in them too - what lets a freezer stop a whole container.
  std::vector<std::string> cgroups;
};

// ExitStatus: how a process ended. exitCode follows the shell convention
// (128 + signal for a signal death) so it can be reported as one number.
struct ExitStatus {
  int exitCode = 0;
  int signal = 0;  // non-zero when killed by a signal
  bool signaled() const { return signal != 0; }
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

class Process {
 public:
  virtual ~Process() = default;
  virtual int pid() const = 0;
  // The parent's ends of kPipe stdio (nullptr otherwise). The Process keeps
  // ownership; close them through the Stream.
  virtual Stream* stdinStream() = 0;
  virtual Stream* stdoutStream() = 0;
  virtual Stream* stderrStream() = 0;
  // terminalStream is the pty master (reads the child's output, writes its
  // input) when spawned with terminal=true, else nullptr.
  virtual Stream* terminalStream() { return nullptr; }
  // resizeTerminal sets the pty's window size (SIGWINCH reaches the child).
  virtual Status resizeTerminal(uint16_t rows, uint16_t columns) {
    (void)rows;
    (void)columns;
    return UnimplementedError("the process has no terminal");
  }
  // takeStdio hands ownership of the parent's end of stdio fd 0, 1 or 2 (or
  // 3: the terminal master) to the caller (nullptr if none or already taken).
  virtual std::unique_ptr<Stream> takeStdio(int fd) = 0;
  // signal delivers a signal; NotFound once the process has been reaped.
  virtual Status signal(int sig) = 0;
  // wait completes when the process exits (any number of waiters).
  virtual Task<ExitStatus> wait() = 0;
  // exited is set once the exit has been observed.
  virtual std::optional<ExitStatus> exitStatus() const = 0;
  // isolated tells whether the process got its own namespaces (ProcessSpec.isolate).
  virtual bool isolated() const { return false; }
};

class ProcessRunner;

// runCommand runs a command to completion; an exit code other than 0 is an
// Internal error with the command line and what it wrote to stderr.
Task<Status> runCommand(ProcessRunner& runner, ProcessSpec spec);

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual StatusOr<std::unique_ptr<Process>> spawn(const ProcessSpec& spec) = 0;
  // adopt tracks an existing child of this process that it did not spawn
  // (a container's init reparented to a subreaper once runc exits): exit and
  // signals as for spawn; no stdio.
  virtual StatusOr<std::unique_ptr<Process>> adopt(int pid) {
    return UnimplementedError("this process runner cannot adopt pid " + std::to_string(pid));
  }
};

}  // namespace hcsshim::runtime
