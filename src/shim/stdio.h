// stdio.h: where a task's stdio goes, from the paths/URIs containerd sends.
//   ""              no stream
//   /path, fifo:/   a FIFO the client created (stdout/stderr opened
//                   write-only once the reader is there; stdin read-only)
//   file:///path    append to a file
//   binary:///path?k=v&k2
//                   a logging binary (containerd's protocol): started with
//                   argv = path k v k2, env CONTAINER_ID/CONTAINER_NAMESPACE,
//                   fd 3 = stdout read end, fd 4 = stderr read end, fd 5 = a
//                   pipe it closes once ready. One logger takes both streams.
#pragma once

#include <memory>
#include <string>

#include "src/runtime/epoll_loop.h"
#include "src/runtime/process.h"
#include "src/runtime/transport.h"

namespace hcsshim::shim {

runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(runtime::EpollEventLoop& loop, std::string uri);
// isBinaryUri: the URI names a logging binary (openOutput refuses those: use
// startBinaryLogger, which serves stdout and stderr together).
bool isBinaryUri(const std::string& uri);

// checkOutputUris validates stdout/stderr URIs up front (Create/Exec): a
// binary:// URI must parse and name an executable; stderr may be binary://
// only together with the same stdout. InvalidArgument otherwise.
Status checkOutputUris(const std::string& stdoutUri, const std::string& stderrUri);

struct BinaryLoggerOptions {
  std::string uri;
  std::string containerId;
  std::string ns;
  runtime::Duration readyTimeout = std::chrono::seconds(10);
};

struct LoggerStreams {
  std::unique_ptr<runtime::Stream> out;  // write ends: the logger's fd 3 and 4
  std::unique_ptr<runtime::Stream> err;
};

// startBinaryLogger starts the logger and waits until it says it is ready
// (closes fd 5, or exits). It is reaped in the background and exits when both
// streams are closed. Errors: InvalidArgument (URI), the spawn's error,
// DeadlineExceeded (not ready in time; the logger is killed).
runtime::Task<StatusOr<LoggerStreams>> startBinaryLogger(runtime::EpollEventLoop& loop, runtime::ProcessRunner& runner,
                                                         BinaryLoggerOptions options);

runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(runtime::EpollEventLoop& loop, std::string uri);

// relay copies from -> to until EOF, then shuts `to`'s write side (closeTo:
// and closes it). Owns both ends.
runtime::Task<void> relay(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, bool closeTo);

}  // namespace hcsshim::shim
