#include "platforms/windows/winsock_transport.h"

// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <string>

#include "platforms/windows/blocking.h"
#include "platforms/windows/named_pipe.h"
#include "src/bridge/hvsock_address.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

namespace {

constexpr int kHvProtocolRaw = 1;

std::string wsaText(int err) {
  char buf[256] = {};
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, static_cast<DWORD>(err),
                           0, buf, sizeof buf, nullptr);
  std::string text(buf, n);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '.')) text.pop_back();
  return "WSA error " + std::to_string(err) + (text.empty() ? "" : " (" + text + ")");
}

Status wsaStatus(int err, const std::string& what) {
  if (err == WSAEAFNOSUPPORT || err == WSAEPROTONOSUPPORT || err == WSAESOCKTNOSUPPORT) {
    return UnimplementedError(what + ": this host's winsock has no such socket family (AF_HYPERV needs Windows with "
                              "Hyper-V): " + wsaText(err));
  }
  return UnavailableError(what + ": " + wsaText(err));
}

// A socket shared by the stream and the threads blocked on it.
struct Socket {
  explicit Socket(SOCKET s) : s(s) {}
  ~Socket() { close(); }
  void close() {
    if (!closed.exchange(true)) ::closesocket(s);
  }
  SOCKET s;
  std::atomic<bool> closed{false};
};

struct Io {
  int n = 0;
  int err = 0;
};

// The address, parsed: a sockaddr and its text.
struct Endpoint {
  sockaddr_storage addr{};
  int len = 0;
  int family = 0;
  int protocol = 0;
  std::string text;
};

StatusOr<Endpoint> parse(std::string_view address) {
  Endpoint e;
  e.text = std::string(address);
  constexpr std::string_view kTcp = "tcp://";
  if (address.substr(0, kTcp.size()) == kTcp) {
    std::string_view rest = address.substr(kTcp.size());
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || rest.substr(0, colon) != "127.0.0.1") {
      return InvalidArgumentError("address " + e.text + ": want tcp://127.0.0.1:PORT (loopback only)");
    }
    std::string_view port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) > 65535) {
      return InvalidArgumentError("address " + e.text + ": the port is not a number in 0..65535");
    }
    auto* in = reinterpret_cast<sockaddr_in*>(&e.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<u_short>(std::stoi(std::string(port))));
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e.len = sizeof(sockaddr_in);
    e.family = AF_INET;
    e.protocol = IPPROTO_TCP;
    return e;
  }
  auto hv = bridge::parseHvsockUri(address);
  if (!hv.ok()) {
    if (address.substr(0, 9) == "hvsock://") return hv.status();
    return InvalidArgumentError("address " + e.text.substr(0, 200) +
                                ": want tcp://127.0.0.1:PORT, hvsock://VMID/SERVICE or npipe:////./pipe/NAME");
  }
  e.text = bridge::formatHvsockUri(*hv);  // errors name the canonical form
  auto bytes = bridge::encodeSockaddrHv(*hv);
  std::memcpy(&e.addr, bytes.data(), bytes.size());
  e.len = static_cast<int>(bytes.size());
  e.family = bridge::kAfHyperV;
  e.protocol = kHvProtocolRaw;
  return e;
}

class WinsockStream final : public runtime::Stream {
 public:
  WinsockStream(runtime::EventLoop& loop, std::shared_ptr<Socket> sock, std::string name)
      : loop_(loop), sock_(std::move(sock)), name_(std::move(name)) {}
  ~WinsockStream() override { close(); }

  Task<StatusOr<size_t>> read(std::span<char> buf) override {
    if (sock_->closed) co_return UnavailableError(name_ + ": read on a closed stream");
    std::shared_ptr<Socket> sock = sock_;
    int want = static_cast<int>(std::min<size_t>(buf.size(), INT_MAX));
    char* data = buf.data();
    auto recv_call = blocking(loop_, [sock, data, want] {
      int n = ::recv(sock->s, data, want, 0);
      return Io{n, n < 0 ? WSAGetLastError() : 0};
    });
    Io r = co_await std::move(recv_call);
    if (r.n < 0) co_return wsaStatus(r.err, name_ + ": recv");
    co_return static_cast<size_t>(r.n);
  }

  Task<Status> write(std::string_view data) override {
    std::shared_ptr<Socket> sock = sock_;
    while (!data.empty()) {
      if (sock->closed) co_return UnavailableError(name_ + ": write on a closed stream");
      const char* p = data.data();
      int len = static_cast<int>(std::min<size_t>(data.size(), 1 << 20));
      auto send_call = blocking(loop_, [sock, p, len] {
        int n = ::send(sock->s, p, len, 0);
        return Io{n, n < 0 ? WSAGetLastError() : 0};
      });
      Io r = co_await std::move(send_call);
      if (r.n <= 0) co_return wsaStatus(r.n < 0 ? r.err : WSAECONNRESET, name_ + ": send");
      data.remove_prefix(static_cast<size_t>(r.n));
    }
    co_return OkStatus();
  }

  Status shutdownWrite() override {
    if (sock_->closed) return UnavailableError(name_ + ": shutdown on a closed stream");
    if (::shutdown(sock_->s, SD_SEND) != 0) return wsaStatus(WSAGetLastError(), name_ + ": shutdown");
    return OkStatus();
  }
  void close() override { sock_->close(); }
  StatusOr<runtime::PeerCredentials> peerCredentials() const override {
    return UnimplementedError(name_ + ": Windows sockets carry no peer credentials here");
  }
  std::string describe() const override { return name_; }

 private:
  runtime::EventLoop& loop_;
  std::shared_ptr<Socket> sock_;
  std::string name_;
};

class WinsockListener final : public runtime::Listener {
 public:
  WinsockListener(runtime::EventLoop& loop, std::shared_ptr<Socket> sock, std::string address)
      : loop_(loop), sock_(std::move(sock)), address_(std::move(address)) {}
  ~WinsockListener() override { close(); }

  // (After the wait only locals are touched: the listener may be gone.)
  Task<StatusOr<std::unique_ptr<runtime::Stream>>> accept() override {
    if (sock_->closed) co_return CancelledError(address_ + ": the listener is closed");
    std::shared_ptr<Socket> sock = sock_;
    runtime::EventLoop& loop = loop_;
    std::string address = address_;
    std::string name = address_ + "#" + std::to_string(++accepted_);
    auto accept_call = blocking(loop, [sock] {
      SOCKET s = ::accept(sock->s, nullptr, nullptr);
      return std::make_pair(s, s == INVALID_SOCKET ? WSAGetLastError() : 0);
    });
    auto [s, err] = co_await std::move(accept_call);
    if (s == INVALID_SOCKET) {
      if (sock->closed) co_return CancelledError(address + ": the listener is closed");
      co_return wsaStatus(err, address + ": accept");
    }
    co_return std::unique_ptr<runtime::Stream>(std::make_unique<WinsockStream>(loop, std::make_shared<Socket>(s), name));
  }
  void close() override { sock_->close(); }
  std::string address() const override { return address_; }

 private:
  runtime::EventLoop& loop_;
  std::shared_ptr<Socket> sock_;
  std::string address_;
  uint64_t accepted_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<WinsockTransport>> WinsockTransport::create(runtime::EventLoop& loop) {
  WSADATA data;
  int err = WSAStartup(MAKEWORD(2, 2), &data);
  if (err != 0) return UnavailableError("WSAStartup: " + wsaText(err));
  return std::unique_ptr<WinsockTransport>(new WinsockTransport(loop));
}

WinsockTransport::~WinsockTransport() { WSACleanup(); }

StatusOr<std::unique_ptr<runtime::Listener>> WinsockTransport::listen(std::string_view address) {
  if (isPipeAddress(address)) return listenPipe(loop_, address);
  HCS_ASSIGN_OR_RETURN(Endpoint e, parse(address));
  SOCKET s = ::socket(e.family, SOCK_STREAM, e.protocol);
  if (s == INVALID_SOCKET) return wsaStatus(WSAGetLastError(), "listen " + e.text + ": socket");
  auto sock = std::make_shared<Socket>(s);
  if (::bind(s, reinterpret_cast<sockaddr*>(&e.addr), e.len) != 0) {
    return wsaStatus(WSAGetLastError(), "listen " + e.text + ": bind");
  }
  if (::listen(s, SOMAXCONN) != 0) return wsaStatus(WSAGetLastError(), "listen " + e.text);
  std::string bound = e.text;
  if (e.family == AF_INET) {
    sockaddr_in in{};
    int len = sizeof in;
    if (::getsockname(s, reinterpret_cast<sockaddr*>(&in), &len) == 0) {
      bound = "tcp://127.0.0.1:" + std::to_string(ntohs(in.sin_port));
    }
  }
  return std::unique_ptr<runtime::Listener>(std::make_unique<WinsockListener>(loop_, std::move(sock), bound));
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> WinsockTransport::connect(std::string_view address) {
  if (isPipeAddress(address)) {
    auto pipe_task = connectPipe(loop_, std::string(address));
    co_return co_await std::move(pipe_task);
  }
  auto e = parse(address);
  if (!e.ok()) co_return e.status();
  SOCKET s = ::socket(e->family, SOCK_STREAM, e->protocol);
  if (s == INVALID_SOCKET) co_return wsaStatus(WSAGetLastError(), "connect " + e->text + ": socket");
  auto sock = std::make_shared<Socket>(s);
  Endpoint target = *e;
  auto connect_call = blocking(loop_, [sock, target] {
    int rc = ::connect(sock->s, reinterpret_cast<const sockaddr*>(&target.addr), target.len);
    return rc == 0 ? 0 : WSAGetLastError();
  });
  int err = co_await std::move(connect_call);
  if (err != 0) co_return wsaStatus(err, "connect " + e->text);
  co_return std::unique_ptr<runtime::Stream>(std::make_unique<WinsockStream>(loop_, std::move(sock), e->text));
}

}  // namespace hcsshim::platforms::windows
