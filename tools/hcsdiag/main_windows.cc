// hcsdiag.exe: hcsdiag on Windows, through computecore.dll
// (platforms/windows/computecore_hcs.h) - the commands of commands.h.
// `exec` needs the stdio pipes of HCS processes, which the Windows platform
// does not have yet: it says so (E_NOTIMPL) and exits 1. --record=FILE
// writes the HCS traffic for `hcsdiag --replay=FILE` on Linux.
#include <cstdio>
#include <fstream>
#include <memory>

#include "platforms/windows/computecore_hcs.h"
#include "src/common/log.h"
#include "src/hcs/recording.h"
#include "src/runtime/threaded_loop.h"
#include "tools/hcsdiag/commands.h"

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
  if (args.empty() || args[0] == "--help" || args[0] == "-help") return hcsdiag::usage("  (hcsdiag.exe [--record=FILE] ...)\n");
  if (args[0] == "exec") {
    return hcsdiag::fail(Status::fromHResult(hresult::kNotImpl, "exec", "",
                                             "the stdio of HCS processes is not implemented on Windows yet"));
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
  std::optional<int> code = runtime::blockOn(loop, hcsdiag::runCommon(*api, loop, args, ""));
  runtime::drain(loop);
  return code ? *code : hcsdiag::usage();
}
