#include "platforms/windows/standin/link.h"

#include <ws2tcpip.h>
#include <objbase.h>

#include <condition_variable>
#include <cstring>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "platforms/windows/win_thread.h"
#include "src/common/utf16.h"

namespace hcsshim::standin {
namespace {

using platforms::windows::startThread;

struct Link {
  std::mutex mu;
  bool tried = false;
  SOCKET sock = INVALID_SOCKET;
  std::string error;  // why the link is down
  uint64_t nextSeq = 1;
  std::map<uint64_t, std::function<void(const Answer&)>> pending;
  std::function<void(const Json&)> onEvent;
  std::function<void()> onDisconnect;
  std::mutex sendMu;
};

Link& link() {
  static Link* l = new Link;  // never destroyed: the reader thread may outlive static destruction
  return *l;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool sendAll(SOCKET s, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    int n = ::send(s, data.data() + off, static_cast<int>(data.size() - off), 0);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// LineReader: "\n"-terminated lines from a socket.
struct LineReader {
  SOCKET s;
  std::string buf;
  bool next(std::string& line) {
    for (;;) {
      auto nl = buf.find('\n');
      if (nl != std::string::npos) {
        line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        return true;
      }
      char chunk[65536];
      int n = ::recv(s, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
    }
  }
};

void dropLink(const std::string& why) {
  Link& l = link();
  std::map<uint64_t, std::function<void(const Answer&)>> pending;
  std::function<void()> onDisconnect;
  {
    std::lock_guard<std::mutex> lock(l.mu);
    if (l.sock != INVALID_SOCKET) closesocket(l.sock);
    l.sock = INVALID_SOCKET;
    l.error = why;
    pending.swap(l.pending);
    onDisconnect = l.onDisconnect;
  }
  for (auto& [seq, done] : pending) done(failure(kServiceNotAvailable, why));
  if (onDisconnect) onDisconnect();
}

void readLoop(LineReader reader) {
  std::string line;
  while (reader.next(line)) {
    auto j = parseJson(line);
    if (!j.ok() || !j->is_object()) continue;
    Link& l = link();
    if (j->contains("event")) {
      std::function<void(const Json&)> onEvent;
      {
        std::lock_guard<std::mutex> lock(l.mu);
        onEvent = l.onEvent;
      }
      if (onEvent) onEvent((*j)["event"]);
      continue;
    }
    uint64_t seq = j->value("seq", uint64_t{0});
    std::function<void(const Answer&)> done;
    {
      std::lock_guard<std::mutex> lock(l.mu);
      auto it = l.pending.find(seq);
      if (it != l.pending.end()) {
        done = std::move(it->second);
        l.pending.erase(it);
      }
    }
    if (done) done(*j);
  }
  dropLink("the connection to the fake HCS service ended");
}

// connectLocked: the first call's connect (l.mu held).
void connectLocked(Link& l) {
  l.tried = true;
  std::string address = env("HCS_STANDIN_ADDRESS"), token = env("HCS_STANDIN_TOKEN");
  const std::string scheme = "tcp://";
  if (address.rfind(scheme, 0) != 0 || token.empty()) {
    l.error = "the stand-in computecore.dll needs HCS_STANDIN_ADDRESS=tcp://127.0.0.1:PORT and HCS_STANDIN_TOKEN";
    return;
  }
  std::string hostPort = address.substr(scheme.size());
  auto colon = hostPort.rfind(':');
  if (colon == std::string::npos) {
    l.error = "HCS_STANDIN_ADDRESS " + address + ": want tcp://127.0.0.1:PORT";
    return;
  }
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    l.error = "WSAStartup failed";
    return;
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(hostPort.substr(0, colon).c_str(), hostPort.substr(colon + 1).c_str(), &hints, &res) != 0 || !res) {
    l.error = "HCS_STANDIN_ADDRESS " + address + " does not resolve";
    return;
  }
  SOCKET s = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  int rc = s == INVALID_SOCKET ? SOCKET_ERROR : ::connect(s, res->ai_addr, static_cast<int>(res->ai_addrlen));
  freeaddrinfo(res);
  if (rc == SOCKET_ERROR) {
    l.error = "the fake HCS service at " + address + " refused the connection (error " + std::to_string(WSAGetLastError()) + ")";
    if (s != INVALID_SOCKET) closesocket(s);
    return;
  }
  BOOL one = TRUE;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&one), sizeof one);
  LineReader reader{s, {}};
  std::string answer;
  Json hello = {{"hello", "hcs-standin/1"}, {"token", token}};
  if (!sendAll(s, jsonText(hello) + "\n") || !reader.next(answer)) {
    l.error = "the fake HCS service at " + address + " hung up during the hello";
    closesocket(s);
    return;
  }
  auto a = parseJson(answer);
  if (!a.ok() || !a->is_object() || a->value("hresult", uint64_t{1}) != 0) {
    l.error = "the fake HCS service at " + address + " refused the hello: " + answer;
    closesocket(s);
    return;
  }
  l.sock = s;
  auto shared = std::make_shared<decltype(reader)>(std::move(reader));
  Status started = startThread([shared] { readLoop(std::move(*shared)); });
  if (!started.ok()) {
    l.error = "the stand-in cannot read answers: " + started.toString();
    l.sock = INVALID_SOCKET;
    closesocket(s);
  }
}

}  // namespace

std::string utf8(const wchar_t* s) {
  if (!s) return "";
  auto r = fromUtf16z(reinterpret_cast<const char16_t*>(s));
  return r.ok() ? *r : std::string();
}

wchar_t* taskString(const std::string& s) {
  auto w = toUtf16(s);
  std::u16string text = w.ok() ? *w : u"";
  auto* out = static_cast<wchar_t*>(CoTaskMemAlloc((text.size() + 1) * sizeof(wchar_t)));
  if (!out) return nullptr;
  std::memcpy(out, text.data(), text.size() * sizeof(wchar_t));
  out[text.size()] = 0;
  return out;
}

SOCKET openStdio(uint16_t port) {
  SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s == INVALID_SOCKET) return s;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string hello = env("HCS_STANDIN_TOKEN") + "\n";
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || !sendAll(s, hello)) {
    closesocket(s);
    return INVALID_SOCKET;
  }
  return s;
}

Answer failure(long hresult, const std::string& message) {
  uint32_t hr = static_cast<uint32_t>(hresult);
  Json doc = {{"Error", static_cast<int32_t>(hr)}, {"ErrorMessage", message}};
  return Json{{"hresult", hr}, {"document", jsonText(doc)}};
}

void request(Json req, std::function<void(const Answer&)> done) {
  Link& l = link();
  SOCKET s = INVALID_SOCKET;
  std::string why;
  {
    std::lock_guard<std::mutex> lock(l.mu);
    if (!l.tried) connectLocked(l);
    if (l.sock == INVALID_SOCKET) {
      why = l.error;
    } else {
      uint64_t seq = l.nextSeq++;
      req["seq"] = seq;
      l.pending[seq] = std::move(done);
      s = l.sock;
    }
  }
  if (s == INVALID_SOCKET) return done(failure(kServiceNotAvailable, why));
  std::lock_guard<std::mutex> sending(l.sendMu);
  if (!sendAll(s, jsonText(req) + "\n")) dropLink("the connection to the fake HCS service broke while sending");
}

Answer call(Json req) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Answer answer;
  };
  auto w = std::make_shared<Wait>();
  request(std::move(req), [w](const Answer& a) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->answer = a;
    w->done = true;
    w->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(w->mu);
  w->cv.wait(lock, [&] { return w->done; });
  return w->answer;
}

void setEventHandler(std::function<void(const Json&)> handler) {
  std::lock_guard<std::mutex> lock(link().mu);
  link().onEvent = std::move(handler);
}

void setDisconnectHandler(std::function<void()> handler) {
  std::lock_guard<std::mutex> lock(link().mu);
  link().onDisconnect = std::move(handler);
}

}  // namespace hcsshim::standin
