// hcsdiag.exe: hcsdiag on Windows, through computecore.dll
// (platforms/windows/computecore_hcs.h) - the commands of commands.h.
// `exec` needs the stdio pipes of HCS processes, which the Windows platform
// does not have yet: it says so (E_NOTIMPL) and exits 1.
#include <cstdio>

#include "platforms/windows/computecore_hcs.h"
#include "src/common/log.h"
#include "src/runtime/threaded_loop.h"
#include "tools/hcsdiag/commands.h"

int main(int argc, char** argv) {
  using namespace hcsshim;
  log::setLevel(LogLevel::kWarn);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-help") return hcsdiag::usage();
  if (args[0] == "exec") {
    return hcsdiag::fail(Status::fromHResult(hresult::kNotImpl, "exec", "",
                                             "the stdio of HCS processes is not implemented on Windows yet"));
  }
  runtime::ThreadedEventLoop loop;
  platforms::windows::ComputeCoreHcs hcs(loop);
  std::optional<int> code = runtime::blockOn(loop, hcsdiag::runCommon(hcs, loop, args, ""));
  runtime::drain(loop);
  return code ? *code : hcsdiag::usage();
}
