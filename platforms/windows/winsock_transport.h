// winsock_transport.h: the Transport seam on Windows - sockets through
// winsock, and named pipes (named_pipe.h).
//
//   tcp://127.0.0.1:PORT    loopback TCP; listening on port 0 picks a port
//                           (the listener's address() names it). Other hosts
//                           are refused: nothing here is meant for a network.
//   hvsock://VMID/SERVICE   a Hyper-V socket (AF_HYPERV 34, HV_PROTOCOL_RAW);
//                           the address and its vsock-port form are
//                           src/bridge/hvsock_address.h's.
//   npipe:////./pipe/NAME   a named pipe (also \\.\pipe\NAME): named_pipe.h.
//
// Every blocking call (accept, connect, recv, send) runs on a thread of its
// own (blocking.h) and resumes its coroutine on the loop; a stream has one
// reader and one writer at a time (transport.h). close() closes the socket,
// which ends a blocked recv or accept with an error; the socket state is
// shared with those threads, so a stream may go while they finish.
//
// Errors: InvalidArgument (a malformed or non-loopback address);
// Unimplemented (the host has no AF_HYPERV - Wine: WSAEAFNOSUPPORT);
// Unavailable (refused, reset, closed), each with the WSA error's number.
#pragma once

#include <memory>
#include <string_view>

#include "src/runtime/event_loop.h"
#include "src/runtime/transport.h"

namespace hcsshim::platforms::windows {

class WinsockTransport final : public runtime::Transport {
 public:
  // create starts winsock (WSAStartup 2.2); Unavailable if it cannot.
  static StatusOr<std::unique_ptr<WinsockTransport>> create(runtime::EventLoop& loop);
  ~WinsockTransport() override;

  StatusOr<std::unique_ptr<runtime::Listener>> listen(std::string_view address) override;
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> connect(std::string_view address) override;

 private:
  explicit WinsockTransport(runtime::EventLoop& loop) : loop_(loop) {}
  runtime::EventLoop& loop_;
};

}  // namespace hcsshim::platforms::windows
