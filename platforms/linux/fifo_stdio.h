// fifo_stdio.h: containerd's stdio on Linux - FIFOs, file:// and binary://
// loggers (src/shim/stdio.h has the URI forms) - for the shim.
//
//   platforms::FifoStdio stdio(rt.epoll(), rt.processes());
//   shim::TaskModel model(rt, hcs, events, platform{.stdio = stdio, ...}, config);
#pragma once

#include "src/runtime/epoll_loop.h"
#include "src/runtime/process.h"
#include "src/shim/stdio.h"

namespace hcsshim::platforms {

class FifoStdio final : public shim::StdioEndpoints {
 public:
  FifoStdio(runtime::EpollEventLoop& loop, runtime::ProcessRunner& runner) : loop_(loop), runner_(runner) {}
  Status checkOutputUris(const std::string& stdoutUri, const std::string& stderrUri) override;
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(std::string uri) override;
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(std::string uri) override;
  runtime::Task<StatusOr<shim::LoggerStreams>> startBinaryLogger(shim::BinaryLoggerOptions options) override;

 private:
  runtime::EpollEventLoop& loop_;
  runtime::ProcessRunner& runner_;
};

}  // namespace hcsshim::platforms
