#include "cri_conformance/streaming.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "src/common/json.h"

namespace hcsshim::cri {

namespace {

using Clock = std::chrono::steady_clock;

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += t[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// A WebSocket connection (client side), blocking with a deadline.
class WebSocket {
 public:
  ~WebSocket() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status open(const std::string& url, Clock::time_point deadline) {
    deadline_ = deadline;
    constexpr std::string_view kHttp = "http://";
    if (url.compare(0, kHttp.size(), kHttp) != 0) return InvalidArgumentError("streaming URL " + url + ": want http://");
    std::string rest = url.substr(kHttp.size());
    size_t slash = rest.find('/');
    std::string hostPort = rest.substr(0, slash), path = slash == std::string::npos ? "/" : rest.substr(slash);
    size_t colon = hostPort.rfind(':');
    std::string host = hostPort.substr(0, colon), port = colon == std::string::npos ? "80" : hostPort.substr(colon + 1);
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
      return UnavailableError("streaming URL " + url + ": cannot resolve " + host);
    }
    fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd_ < 0 ? -1 : ::connect(fd_, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0) return errnoStatus(errno, "connect", hostPort);
    std::random_device rd;
    std::string nonce(16, '\0');
    for (auto& c : nonce) c = static_cast<char>(rd());
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + hostPort +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + base64(nonce) +
                      "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n";
    HCS_RETURN_IF_ERROR(sendAll(req));
    // The response head, up to the blank line.
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      HCS_ASSIGN_OR_RETURN(std::string more, recvSome());
      if (more.empty()) return UnavailableError("streaming server closed during the upgrade: " + head);
      head += more;
      if (head.size() > 64 * 1024) return InvalidArgumentError("streaming server: response head too long");
    }
    size_t end = head.find("\r\n\r\n") + 4;
    buffered_ = head.substr(end);
    head.resize(end);
    if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
      return FailedPreconditionError("streaming server refused the upgrade: " + head.substr(0, head.find("\r\n")));
    }
    return OkStatus();
  }

  // send: one binary message (masked, as a client must).
  Status send(uint8_t opcode, const std::string& payload) {
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    size_t n = payload.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xff);
    } else {
      f += static_cast<char>(0x80 | 127);
      for (int s = 56; s >= 0; s -= 8) f += static_cast<char>((n >> s) & 0xff);
    }
    std::random_device rd;
    char mask[4];
    for (auto& m : mask) m = static_cast<char>(rd());
    f.append(mask, 4);
    for (size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    return sendAll(f);
  }

  // next: the next data message (nullopt at a close or EOF); pings answered.
  StatusOr<std::optional<std::string>> next() {
    for (;;) {
      HCS_RETURN_IF_ERROR(need(2));
      if (eof_ && buffered_.size() < 2) return std::optional<std::string>();
      uint8_t b0 = uint8_t(buffered_[0]), b1 = uint8_t(buffered_[1]);
      uint64_t len = b1 & 0x7f;
      size_t at = 2;
      if (len == 126) {
        HCS_RETURN_IF_ERROR(need(4));
        len = (uint64_t(uint8_t(buffered_[2])) << 8) | uint8_t(buffered_[3]);
        at = 4;
      } else if (len == 127) {
        HCS_RETURN_IF_ERROR(need(10));
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | uint8_t(buffered_[2 + i]);
        at = 10;
      }
      if (len > (64u << 20)) return InvalidArgumentError("streaming server: a message of " + std::to_string(len) + " bytes");
      bool masked = b1 & 0x80;
      size_t maskAt = at;
      if (masked) at += 4;
      HCS_RETURN_IF_ERROR(need(at + len));
      if (buffered_.size() < at + len) return std::optional<std::string>();  // cut short
      std::string payload = buffered_.substr(at, len);
      if (masked) {
        for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= buffered_[maskAt + i % 4];
      }
      buffered_.erase(0, at + len);
      uint8_t opcode = b0 & 0x0f;
      if (opcode == 0x8) return std::optional<std::string>();     // close
      if (opcode == 0x9) {                                          // ping
        HCS_RETURN_IF_ERROR(send(0xA, payload));
        continue;
      }
      if (opcode == 0xA) continue;                                  // pong
      if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) return std::optional<std::string>(payload);
      return InvalidArgumentError("streaming server: opcode " + std::to_string(opcode));
    }
  }

 private:
  Status sendAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errnoStatus(errno, "send", "streaming server");
      off += static_cast<size_t>(n);
    }
    return OkStatus();
  }
  StatusOr<std::string> recvSome() {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    if (left <= 0) return DeadlineExceededError("the streaming server did not finish in time");
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc == 0) return DeadlineExceededError("the streaming server did not finish in time");
    if (rc < 0) return errnoStatus(errno, "poll", "streaming server");
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return errnoStatus(errno, "recv", "streaming server");
    return std::string(buf, static_cast<size_t>(n));
  }
  // need: at least n bytes buffered, unless the stream ended.
  Status need(size_t n) {
    while (buffered_.size() < n && !eof_) {
      HCS_ASSIGN_OR_RETURN(std::string more, recvSome());
      if (more.empty()) eof_ = true;
      buffered_ += more;
    }
    return OkStatus();
  }

  int fd_ = -1;
  Clock::time_point deadline_;
  std::string buffered_;
  bool eof_ = false;
};

}  // namespace

StatusOr<StreamOutcome> streamExec(const std::string& url, const std::string& stdin, std::chrono::seconds deadline) {
  WebSocket ws;
  HCS_RETURN_IF_ERROR(ws.open(url, Clock::now() + deadline));
  if (!stdin.empty()) HCS_RETURN_IF_ERROR(ws.send(0x2, std::string(1, '\0') + stdin));
  StreamOutcome out;
  for (;;) {
    HCS_ASSIGN_OR_RETURN(auto msg, ws.next());
    if (!msg) break;
    if (msg->empty()) continue;
    uint8_t channel = uint8_t((*msg)[0]);
    std::string data = msg->substr(1);
    if (channel == 1) out.stdout += data;
    if (channel == 2) out.stderr += data;
    if (channel == 3) out.status += data;
  }
  if (!out.status.empty()) {
    auto j = parseJson(out.status);
    if (j.ok() && j->is_object() && j->contains("status") && (*j)["status"] == "Success") {
      out.exitCode = 0;
    } else if (j.ok() && j->is_object() && j->contains("details") && (*j)["details"].is_object() &&
               (*j)["details"].contains("causes") && (*j)["details"]["causes"].is_array()) {
      for (const Json& c : (*j)["details"]["causes"]) {
        if (c.is_object() && c.contains("reason") && c["reason"] == "ExitCode" && c.contains("message") &&
            c["message"].is_string()) {
          out.exitCode = std::atoi(c["message"].get<std::string>().c_str());
        }
      }
    }
  }
  return out;
}

StatusOr<std::string> streamPortForward(const std::string& url, int port, const std::string& request,
                                        std::chrono::seconds deadline) {
  WebSocket ws;
  std::string withPort = url + (url.find('?') == std::string::npos ? "?" : "&") + "port=" + std::to_string(port);
  HCS_RETURN_IF_ERROR(ws.open(withPort, Clock::now() + deadline));
  HCS_RETURN_IF_ERROR(ws.send(0x2, std::string(1, '\0') + request));
  std::string data, error;
  bool dataOpened = false, errorOpened = false;
  for (;;) {
    HCS_ASSIGN_OR_RETURN(auto msg, ws.next());
    if (!msg) break;
    if (msg->empty()) continue;
    uint8_t channel = uint8_t((*msg)[0]);
    std::string payload = msg->substr(1);
    // Each channel's first message is its port (2 bytes, little endian).
    bool& opened = channel == 0 ? dataOpened : errorOpened;
    if (!opened && payload.size() >= 2) {
      int announced = uint8_t(payload[0]) | (uint8_t(payload[1]) << 8);
      if (announced != port) return InvalidArgumentError("port-forward: the server opened port " + std::to_string(announced));
      opened = true;
      payload.erase(0, 2);
    }
    if (channel == 0) data += payload;
    if (channel == 1) error += payload;
  }
  if (!error.empty()) return UnavailableError("port-forward: " + error);
  return data;
}

}  // namespace hcsshim::cri
