#include "src/runtime/process.h"

#include "src/runtime/transport.h"

namespace hcsshim::runtime {

Task<Status> runCommand(ProcessRunner& runner, ProcessSpec spec) {
  spec.stderrMode = StdioMode::kPipe;
  auto p = runner.spawn(spec);
  if (!p.ok()) co_return p.status();
  auto err = co_await readToEnd(*(*p)->stderrStream(), 64 * 1024);
  ExitStatus st = co_await (*p)->wait();
  if (st.exitCode == 0) co_return OkStatus();
  std::string cmd, msg = err.ok() ? *err : "";
  for (const auto& a : spec.args) cmd += (cmd.empty() ? "" : " ") + a;
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  co_return InternalError(cmd + " (exit " + std::to_string(st.exitCode) + "): " + msg);
}

}  // namespace hcsshim::runtime
