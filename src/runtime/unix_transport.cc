#include "src/runtime/unix_transport.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "src/common/log.h"
#include "src/runtime/unique_fd.h"

namespace hcsshim::runtime {
namespace {

// SocketAddress: a sockaddr_un for any absolute path. sun_path holds 107
// bytes; a longer path is named through its directory, opened O_PATH and
// kept open while the address is in use: /proc/self/fd/<dir>/<name>.
struct SocketAddress {
  sockaddr_un addr{};
  UniqueFd dir;
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&addr); }
};

StatusOr<SocketAddress> socketAddress(const std::string& path) {
  constexpr size_t kMax = sizeof(sockaddr_un::sun_path) - 1;
  SocketAddress a;
  a.addr.sun_family = AF_UNIX;
  std::string name = path;
  if (path.size() > kMax) {
    auto slash = path.rfind('/');
    std::string dir = path.substr(0, slash == 0 ? 1 : slash);
    a.dir.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!a.dir) return errnoStatus(errno, "open socket directory", dir);
    name = "/proc/self/fd/" + std::to_string(a.dir.get()) + path.substr(slash);
    if (name.size() > kMax) {
      return InvalidArgumentError("unix socket name \"" + path.substr(slash + 1) + "\" is too long (" +
                                  std::to_string(path.size() - slash - 1) + " bytes) for sockaddr_un");
    }
  }
  std::memcpy(a.addr.sun_path, name.data(), name.size());
  return a;
}

// isLive tells whether something accepts connections on path (a stale socket
// file left by a dead process refuses them).
bool isLive(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto addr = socketAddress(path);
  if (!fd || !addr.ok()) return true;  // cannot tell: do not unlink
  return ::connect(fd.get(), addr->get(), sizeof addr->addr) == 0 || errno != ECONNREFUSED;
}

// SocketListener: a listening unix socket (path: its file, unlinked at
// close) or loopback TCP socket (path empty; address "tcp://IP:PORT").
class SocketListener final : public Listener {
 public:
  SocketListener(EpollEventLoop& loop, int fd, std::shared_ptr<FdWatch> watch, std::string path, std::string address)
      : loop_(loop), state_(std::make_shared<State>(State{fd, std::move(watch), false})), path_(std::move(path)),
        address_(std::move(address)) {}
  ~SocketListener() override { close(); }

  Task<StatusOr<std::unique_ptr<Stream>>> accept() override { return acceptImpl(loop_, state_, address_); }

  void close() override {
    if (state_->closed) return;
    state_->closed = true;
    loop_.unwatch(state_->watch);
    ::close(state_->fd);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  std::string address() const override { return address_; }

 private:
  struct State {
    int fd;
    std::shared_ptr<FdWatch> watch;
    bool closed;
  };
  static Task<StatusOr<std::unique_ptr<Stream>>> acceptImpl(EpollEventLoop& loop, std::shared_ptr<State> s,
                                                            std::string address) {
    for (;;) {
      if (s->closed) co_return CancelledError("listener closed");
      int fd = accept4(s->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        static uint64_t seq = 0;
        auto st = FdStream::create(loop, fd, FdStream::Kind::kSocket, address + "#a" + std::to_string(++seq));
        if (!st.ok()) co_return st.status();
        co_return std::unique_ptr<Stream>(std::move(*st));
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: report it; the caller decides whether to back off.
        co_return errnoStatus(errno, "accept4", address);
      }
      if (errno != EAGAIN) co_return errnoStatus(errno, "accept4", address);
      co_await s->watch->readable();
    }
  }

  EpollEventLoop& loop_;
  std::shared_ptr<State> state_;
  std::string path_;
  std::string address_;
};

// parseTcpAddress: "tcp://A.B.C.D:PORT" with a loopback address (this
// transport serves local clients - a Wine process - never the network).
StatusOr<sockaddr_in> parseTcpAddress(std::string_view address) {
  constexpr std::string_view kScheme = "tcp://";
  std::string rest(address.substr(kScheme.size()));
  auto colon = rest.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  std::string host = colon == std::string::npos ? "" : rest.substr(0, colon);
  std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
  bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoul(port) > 65535 || inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    return InvalidArgumentError("tcp address " + std::string(address) + ": want tcp://A.B.C.D:PORT");
  }
  if ((ntohl(a.sin_addr.s_addr) >> 24) != 127) {
    return InvalidArgumentError("tcp address " + std::string(address) + ": only loopback (127.0.0.0/8) is served");
  }
  a.sin_port = htons(static_cast<uint16_t>(std::stoul(port)));
  return a;
}

std::string tcpAddressOf(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return "tcp://" + std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

StatusOr<std::unique_ptr<Listener>> listenTcp(EpollEventLoop& loop, std::string_view view) {
  std::string address(view);
  HCS_ASSIGN_OR_RETURN(sockaddr_in addr, parseTcpAddress(address));
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errnoStatus(errno, "socket(AF_INET)", address);
  int one = 1;
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return errnoStatus(errno, "bind", address);
  if (::listen(fd.get(), SOMAXCONN) < 0) return errnoStatus(errno, "listen", address);
  socklen_t len = sizeof addr;
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) < 0) return errnoStatus(errno, "getsockname", address);
  HCS_ASSIGN_OR_RETURN(auto watch, loop.watchFd(fd.get()));
  std::string bound = tcpAddressOf(addr);  // with the port the kernel chose for :0
  HLOG(Debug, "tcp.listen").kv("address", bound);
  return std::unique_ptr<Listener>(new SocketListener(loop, fd.release(), std::move(watch), "", bound));
}

}  // namespace

StatusOr<UniqueFd> connectUnixBlocking(const std::string& path) {
  HCS_ASSIGN_OR_RETURN(SocketAddress addr, socketAddress(path));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errnoStatus(errno, "socket", path);
  if (::connect(fd.get(), addr.get(), sizeof addr.addr) < 0) return errnoStatus(errno, "connect", path);
  return fd;
}

StatusOr<std::unique_ptr<Listener>> UnixTransport::listen(std::string_view address) {
  if (address.starts_with("tcp://")) return listenTcp(loop_, address);
  HCS_ASSIGN_OR_RETURN(std::string path, unixSocketPath(address));
  HCS_ASSIGN_OR_RETURN(SocketAddress addr, socketAddress(path));
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errnoStatus(errno, "socket", path);
  if (::bind(fd.get(), addr.get(), sizeof addr.addr) < 0) {
    if (errno != EADDRINUSE || isLive(path)) return errnoStatus(errno, "bind", path);
    ::unlink(path.c_str());  // stale socket from a dead process
    if (::bind(fd.get(), addr.get(), sizeof addr.addr) < 0) return errnoStatus(errno, "bind", path);
  }
  if (::chmod(path.c_str(), options_.mode) < 0 || ::listen(fd.get(), SOMAXCONN) < 0) {
    Status s = errnoStatus(errno, "listen", path);
    ::unlink(path.c_str());
    return s;
  }
  auto watch = loop_.watchFd(fd.get());
  if (!watch.ok()) {
    ::unlink(path.c_str());
    return watch.status();
  }
  HLOG(Debug, "unix.listen").kv("path", path);
  return std::unique_ptr<Listener>(new SocketListener(loop_, fd.release(), std::move(*watch), path, "unix://" + path));
}

static StatusOr<std::pair<uint32_t, uint32_t>> parseVsockAddress(std::string_view address) {
  constexpr std::string_view kScheme = "vsock://";
  std::string_view rest = address.substr(kScheme.size());
  auto colon = rest.find(':');
  auto number = [](std::string_view t, uint32_t& out) {
    if (t.empty() || t.size() > 10) return false;
    uint64_t v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out = static_cast<uint32_t>(v);
    return v <= 0xFFFFFFFFu;
  };
  uint32_t cid = 0, port = 0;
  if (colon == std::string_view::npos || !number(rest.substr(0, colon), cid) || !number(rest.substr(colon + 1), port)) {
    return InvalidArgumentError("vsock address " + std::string(address) + ": want vsock://CID:PORT");
  }
  return std::make_pair(cid, port);
}

Task<StatusOr<std::unique_ptr<Stream>>> UnixTransport::connectVsock(std::string address) {
  HCS_CO_ASSIGN_OR_RETURN(auto cidPort, parseVsockAddress(address));
  sockaddr_vm addr{};
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cidPort.first;
  addr.svm_port = cidPort.second;
  co_return co_await connectSocket(AF_VSOCK, reinterpret_cast<sockaddr*>(&addr), sizeof addr, address);
}

Task<StatusOr<std::unique_ptr<Stream>>> UnixTransport::connectTcp(std::string address) {
  HCS_CO_ASSIGN_OR_RETURN(sockaddr_in addr, parseTcpAddress(address));
  co_return co_await connectSocket(AF_INET, reinterpret_cast<sockaddr*>(&addr), sizeof addr, address);
}

// connectSocket: a non-blocking connect of a vsock or TCP socket.
Task<StatusOr<std::unique_ptr<Stream>>> UnixTransport::connectSocket(int family, const sockaddr* addr, socklen_t addrLen,
                                                                    std::string address) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) co_return errnoStatus(errno, family == AF_VSOCK ? "socket(AF_VSOCK)" : "socket", address);
  if (::connect(fd, addr, addrLen) < 0 && errno != EINPROGRESS) {
    Status st = errnoStatus(errno, "connect", address);
    ::close(fd);
    co_return st;
  }
  auto watch = loop_.watchFd(fd);
  if (!watch.ok()) {
    ::close(fd);
    co_return watch.status();
  }
  // In progress: writable once connected or failed; SO_ERROR says which.
  int err = 0;
  for (;;) {
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) break;
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) break;
    co_await (*watch)->writable();
  }
  loop_.unwatch(*watch);
  if (err != 0) {
    ::close(fd);
    co_return errnoStatus(err, "connect", address);
  }
  if (family == AF_INET) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  static uint64_t seq = 0;
  HCS_CO_ASSIGN_OR_RETURN(auto stream, FdStream::create(loop_, fd, FdStream::Kind::kSocket,
                                                        address + "#c" + std::to_string(++seq)));
  co_return std::unique_ptr<Stream>(std::move(stream));
}

Task<StatusOr<std::unique_ptr<Stream>>> UnixTransport::connect(std::string_view address) {
  if (address.starts_with("vsock://")) co_return co_await connectVsock(std::string(address));
  if (address.starts_with("tcp://")) co_return co_await connectTcp(std::string(address));
  HCS_CO_ASSIGN_OR_RETURN(std::string path, unixSocketPath(address));
  static uint64_t seq = 0;
  HCS_CO_ASSIGN_OR_RETURN(SocketAddress addr, socketAddress(path));
  // A non-blocking unix connect either completes at once or fails; EAGAIN means
  // the listener's backlog is full, and the connect must be retried.
  constexpr int kBacklogRetries = 100;
  for (int attempt = 0;; ++attempt) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) co_return errnoStatus(errno, "socket", path);
    if (::connect(fd.get(), addr.get(), sizeof addr.addr) == 0) {
      HCS_CO_ASSIGN_OR_RETURN(auto stream, FdStream::create(loop_, fd.release(), FdStream::Kind::kSocket,
                                                            "unix:" + path + "#c" + std::to_string(++seq)));
      co_return std::unique_ptr<Stream>(std::move(stream));
    }
    int err = errno;
    if (err != EAGAIN || attempt >= kBacklogRetries) co_return errnoStatus(err, "connect", path);
    co_await sleep(loop_, std::chrono::milliseconds(1));
  }
}

}  // namespace hcsshim::runtime
