// win_process.h: the ProcessRunner seam on Windows - CreateProcessW.
//
// The command line is argv quoted the way CommandLineToArgvW (and the C
// runtime) splits it back; the environment, when given, is a sorted UTF-16
// block; stdio is NUL, the parent's, or a pipe whose parent end is a
// HandleStream. Only the three stdio handles are inherited
// (PROC_THREAD_ATTRIBUTE_HANDLE_LIST: a concurrent spawn's pipes never leak
// into another child). killOnParentDeath puts the child in a job object that
// kills it when this process goes (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE).
// A thread of its own waits for the exit and hands it to the loop.
//
// Windows has no signals: signal(SIGKILL or SIGTERM) is TerminateProcess
// with exit code 128 + the signal's number (the ExitStatus records the
// signal), signal(0) asks whether it still runs, others are InvalidArgument.
// What Windows has no such thing for - a pseudo-terminal, namespaces,
// cgroups, extra descriptors, a new session - is Unimplemented, named.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/runtime/event_loop.h"
#include "src/runtime/process.h"

namespace hcsshim::platforms::windows {

class WinProcessRunner final : public runtime::ProcessRunner {
 public:
  explicit WinProcessRunner(runtime::EventLoop& loop);
  ~WinProcessRunner() override;
  StatusOr<std::unique_ptr<runtime::Process>> spawn(const runtime::ProcessSpec& spec) override;

 private:
  runtime::EventLoop& loop_;
  void* job_ = nullptr;  // HANDLE of the kill-on-close job (made on first use)
};

// quoteCommandLine: argv as one command line CommandLineToArgvW splits back
// into the same strings.
std::string quoteCommandLine(const std::vector<std::string>& args);

}  // namespace hcsshim::platforms::windows
