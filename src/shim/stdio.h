// stdio.h: where a task's stdio goes, from the paths/URIs containerd sends.
//
// The endpoints are the platform's (StdioEndpoints, injected): on Linux
// (platforms/linux/fifo_stdio.h) containerd sends
//   ""              no stream
//   /path, fifo:/   a FIFO the client created (stdout/stderr opened
//                   write-only once the reader is there; stdin read-only)
//   file:///path    append to a file
//   binary:///path?k=v&k2
//                   a logging binary (containerd's protocol): started with
//                   argv = path k v k2, env CONTAINER_ID/CONTAINER_NAMESPACE,
//                   fd 3 = stdout read end, fd 4 = stderr read end, fd 5 = a
//                   pipe it closes once ready. One logger takes both streams.
// On Windows they are named pipes. What is the same everywhere - the URI
// grammar and the copying - is here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/runtime/event_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::shim {

// isBinaryUri: the URI names a logging binary (openOutput refuses those: use
// startBinaryLogger, which serves stdout and stderr together).
bool isBinaryUri(const std::string& uri);

// parseBinaryUri: binary:///abs/path?k=v&flag -> {path, k, v, flag}
// (percent-decoded; '+' is a space in the query). InvalidArgument otherwise.
StatusOr<std::vector<std::string>> parseBinaryUri(const std::string& uri);

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

// StdioEndpoints: the platform's side of containerd's stdio.
class StdioEndpoints {
 public:
  virtual ~StdioEndpoints() = default;
  // checkOutputUris validates stdout/stderr URIs up front (Create/Exec): a
  // binary:// URI must parse and name an executable; stderr may be binary://
  // only together with the same stdout. InvalidArgument otherwise.
  virtual Status checkOutputUris(const std::string& stdoutUri, const std::string& stderrUri) = 0;
  // openOutput: a stream that writes to the URI (nullptr for "").
  virtual runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(std::string uri) = 0;
  // openInput: a stream that reads the client's stdin (nullptr for "").
  virtual runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(std::string uri) = 0;
  // startBinaryLogger starts the logger and waits until it says it is ready
  // (closes fd 5, or exits). It is reaped in the background and exits when
  // both streams are closed. Errors: InvalidArgument (URI), the spawn's
  // error, DeadlineExceeded (not ready in time; the logger is killed).
  virtual runtime::Task<StatusOr<LoggerStreams>> startBinaryLogger(BinaryLoggerOptions options) = 0;
};

// relay copies from -> to until EOF, then shuts `to`'s write side (closeTo:
// and closes it). Owns both ends.
runtime::Task<void> relay(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, bool closeTo);

}  // namespace hcsshim::shim
