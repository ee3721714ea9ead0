// hcsdiag.exe: hcsdiag on Windows, through computecore.dll
// (platforms/windows/computecore_hcs.h) - the commands of commands.h.
// `exec [-i] <id> <command> [args...]` runs a process in the compute
// system with HCS's stdio pipes (its output to ours; -i: our stdin, read to
// its end, to its stdin) and exits with its exit code. --record=FILE
// writes the HCS traffic for `hcsdiag --replay=FILE` on Linux.
#include <fcntl.h>
#include <io.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "platforms/windows/computecore_hcs.h"
#include "src/common/log.h"
#include "src/hcs/compute_system.h"
#include "src/hcs/recording.h"
#include "src/runtime/threaded_loop.h"
#include "tools/hcsdiag/commands.h"

namespace {

using namespace hcsshim;
using runtime::Task;

constexpr const char* kExecUsage = "  exec [-i] <id> <command> [args...]\n";

Task<void> copyOut(runtime::Stream* from, std::FILE* to) {
  char buf[65536];
  for (;;) {
    auto read_task = from->read(buf);
    auto n = co_await std::move(read_task);
    if (!n.ok() || *n == 0) co_return;
    std::fwrite(buf, 1, *n, to);
    std::fflush(to);
  }
}

// exec: nullopt for a usage error.
Task<std::optional<int>> exec(hcs::HcsApi& hcs, runtime::EventLoop& loop, std::vector<std::string> args) {
  size_t at = 1;
  bool interactive = at < args.size() && args[at] == "-i";
  if (interactive) ++at;
  if (at + 1 >= args.size()) co_return std::nullopt;
  // The process's bytes, unchanged (no \r added before \n).
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
  _setmode(_fileno(stderr), _O_BINARY);
  auto open_task = hcs::ComputeSystem::open(hcs, loop, args[at]);
  auto cs = co_await std::move(open_task);
  if (!cs.ok()) co_return hcsdiag::fail(cs.status());
  schema::ProcessParameters pp;
  pp.commandArgs.assign(args.begin() + static_cast<long>(at) + 1, args.end());
  pp.createStdInPipe = interactive;
  pp.createStdOutPipe = pp.createStdErrPipe = true;
  auto create_task = (*cs)->createProcess(pp);
  auto p = co_await std::move(create_task);
  if (!p.ok()) co_return hcsdiag::fail(p.status());
  bool outDone = !(*p)->stdoutStream(), errDone = !(*p)->stderrStream();
  if (!outDone) {
    runtime::spawn([](runtime::Stream* s, bool& done) -> Task<void> {
      co_await copyOut(s, stdout);
      done = true;
    }((*p)->stdoutStream(), outDone));
  }
  if (!errDone) {
    runtime::spawn([](runtime::Stream* s, bool& done) -> Task<void> {
      co_await copyOut(s, stderr);
      done = true;
    }((*p)->stderrStream(), errDone));
  }
  if (interactive && (*p)->stdinStream()) {
    std::string all;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) all.append(buf, n);
    auto write_task = (*p)->stdinStream()->write(all);
    (void)co_await std::move(write_task);
    // As hcsshim: HCS closes the process's stdin, then we close our end.
    auto close_task = (*p)->closeStdin();
    (void)co_await std::move(close_task);
    (*p)->stdinStream()->close();
  }
  auto wait_task = (*p)->wait();
  int code = co_await std::move(wait_task);
  while (!outDone || !errDone) co_await runtime::sleep(loop, std::chrono::milliseconds(1));
  co_return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hcsshim;
  log::setLevel(LogLevel::kWarn);
  std::vector<std::string> args(argv + 1, argv + argc);
  // --record=FILE: the HCS traffic as JSON lines (src/hcs/recording.h), for
  // `hcsdiag --replay=FILE` on Linux.
  std::string record;
  if (!args.empty() && args[0].rfind("--record=", 0) == 0) {
    record = args[0].substr(9);
    args.erase(args.begin());
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-help") {
    return hcsdiag::usage("  exec [-i] <id> <command> [args...]\n  (hcsdiag.exe [--record=FILE] ...)\n");
  }

  runtime::ThreadedEventLoop loop;
  platforms::windows::ComputeCoreHcs computecore(loop);
  std::ofstream recording;
  std::unique_ptr<hcs::RecordingHcsApi> recorder;
  hcs::HcsApi* api = &computecore;
  if (!record.empty()) {
    recording.open(record, std::ios::trunc);
    if (!recording) return hcsdiag::fail(NotFoundError("cannot write " + record));
    recorder = std::make_unique<hcs::RecordingHcsApi>(computecore, loop, [&recording](const std::string& line) {
      recording << line << "\n" << std::flush;
    });
    api = recorder.get();
  }
  std::optional<int> code = args[0] == "exec" ? runtime::blockOn(loop, exec(*api, loop, args))
                                              : runtime::blockOn(loop, hcsdiag::runCommon(*api, loop, args, kExecUsage));
  runtime::drain(loop);
  return code ? *code : hcsdiag::usage(kExecUsage);
}
