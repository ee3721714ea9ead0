// hnsdiag.exe: hnsdiag on Windows, through computenetwork.dll (HCN) and
// vmcompute.dll's HNSCall (platforms/windows/computenetwork_hns.h).
#include "platforms/windows/computenetwork_hns.h"
#include "src/common/log.h"
#include "src/runtime/threaded_loop.h"
#include "tools/hnsdiag/commands.h"

int main(int argc, char** argv) {
  using namespace hcsshim;
  log::setLevel(LogLevel::kWarn);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-help") return hnsdiag::usage();
  runtime::ThreadedEventLoop loop;
  platforms::windows::ComputeNetworkHns hns(loop);
  int code = runtime::blockOn(loop, hnsdiag::runCommand(hns, args));
  runtime::drain(loop);
  return code;
}
