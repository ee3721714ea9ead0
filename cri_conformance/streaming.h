// streaming.h: a client of containerd's CRI streaming server (the URLs
// Exec, Attach and PortForward return) over WebSocket - what kubectl's
// exec/attach/port-forward reach through the kubelet. RFC 6455 framing (the
// client masks), subprotocol v4.channel.k8s.io: each binary message starts
// with its channel - exec/attach: 0 stdin, 1 stdout, 2 stderr, 3 error (a
// JSON metav1.Status at the end: Success, or NonZeroExitCode with the code),
// 4 resize; port-forward: per port a data and an error channel, each opened
// by the server with the port as 2 bytes little endian.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "src/common/status.h"

namespace hcsshim::cri {

struct StreamOutcome {
  std::string stdout, stderr;
  std::string status;  // the error channel's JSON ("" if none came)
  int exitCode = -1;   // 0 for Success, the NonZeroExitCode cause, -1 unknown
};

// streamExec: connect to an Exec or Attach URL, send `stdin` on channel 0
// (if not empty), then read until the server closes or `deadline` passes.
StatusOr<StreamOutcome> streamExec(const std::string& url, const std::string& stdin,
                                   std::chrono::seconds deadline = std::chrono::seconds(30));

// streamPortForward: connect to a PortForward URL for `port`, send
// `request` on its data channel, and return what comes back on it until the
// server closes (the error channel's text as an error).
StatusOr<std::string> streamPortForward(const std::string& url, int port, const std::string& request,
                                        std::chrono::seconds deadline = std::chrono::seconds(30));

}  // namespace hcsshim::cri
