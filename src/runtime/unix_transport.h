// unix_transport.h: the real Transport over filesystem unix sockets (and
// outgoing AF_VSOCK connections, "vsock://CID:PORT", for a guest agent; and
// loopback TCP, "tcp://127.0.0.1:PORT", for clients that have no unix
// sockets - a Windows program under Wine. Port 0 listens on a port the
// kernel picks: the listener's address() names it. Addresses outside
// 127.0.0.0/8 are refused (InvalidArgument): nothing here serves a network).
//
//   UnixTransport t(loop);
//   auto l = t.listen("unix:///tmp/x.sock");      // unlinks a stale socket
//   auto s = co_await t.connect("/tmp/x.sock");
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include "src/runtime/epoll_loop.h"
#include "src/runtime/fd_stream.h"
#include "src/runtime/transport.h"
#include "src/runtime/unique_fd.h"

namespace hcsshim::runtime {

// connectUnixBlocking: a blocking connect to the socket at path (any length,
// as UnixTransport), for code that runs before an event loop exists (a VM's
// boot sequence) and needs the raw descriptor.
StatusOr<UniqueFd> connectUnixBlocking(const std::string& path);

struct UnixListenOptions {
  mode_t mode = 0600;  // socket file permissions (containerd shims use 0600)
};

class UnixTransport final : public Transport {
 public:
  explicit UnixTransport(EpollEventLoop& loop, UnixListenOptions options = {}) : loop_(loop), options_(options) {}
  StatusOr<std::unique_ptr<Listener>> listen(std::string_view address) override;
  Task<StatusOr<std::unique_ptr<Stream>>> connect(std::string_view address) override;

 private:
  Task<StatusOr<std::unique_ptr<Stream>>> connectVsock(std::string address);
  Task<StatusOr<std::unique_ptr<Stream>>> connectTcp(std::string address);
  Task<StatusOr<std::unique_ptr<Stream>>> connectSocket(int family, const sockaddr* addr, socklen_t addrLen,
                                                        std::string address);
  EpollEventLoop& loop_;
  UnixListenOptions options_;
};

}  // namespace hcsshim::runtime
