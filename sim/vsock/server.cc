#include "sim/vsock/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "src/common/log.h"

namespace hcsshim::vsock {

using runtime::Task;

namespace {

Status errnoError(const std::string& what) { return UnavailableError(what + ": " + std::strerror(errno)); }

}  // namespace

VhostUserVsockServer::VhostUserVsockServer(runtime::EpollEventLoop& loop, runtime::Transport& transport,
                                           ServerOptions options)
    : loop_(loop), options_(std::move(options)), backend_(options_.device.guestCid) {
  device_ = std::make_unique<VsockDevice>(loop, transport, *this, options_.device);
  backend_.onQueueChange = [this](int q) { onQueueChange(q); };
}

VhostUserVsockServer::~VhostUserVsockServer() {
  *alive_ = false;
  for (auto& w : kickWatch_) {
    if (w) loop_.unwatch(w);
  }
  if (connWatch_) loop_.unwatch(connWatch_);
  if (listenWatch_) loop_.unwatch(listenWatch_);
  device_.reset();
  backend_.onQueueChange = nullptr;
}

StatusOr<std::unique_ptr<VhostUserVsockServer>> VhostUserVsockServer::create(runtime::EpollEventLoop& loop,
                                                                             runtime::Transport& transport,
                                                                             ServerOptions options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.socketPath.size() >= sizeof addr.sun_path) {
    return InvalidArgumentError("vhost-user socket path longer than " + std::to_string(sizeof addr.sun_path - 1));
  }
  std::memcpy(addr.sun_path, options.socketPath.c_str(), options.socketPath.size() + 1);
  auto s = std::unique_ptr<VhostUserVsockServer>(new VhostUserVsockServer(loop, transport, std::move(options)));
  s->listenFd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s->listenFd_) return errnoError("socket");
  unlink(addr.sun_path);
  if (bind(s->listenFd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      listen(s->listenFd_.get(), 1) < 0) {
    return errnoError("vhost-user socket " + s->options_.socketPath);
  }
  auto w = loop.watchFd(s->listenFd_.get());
  if (!w.ok()) return w.status();
  s->listenWatch_ = *w;
  HCS_RETURN_IF_ERROR(s->device_->start());
  return s;
}

Task<StatusOr<bool>> VhostUserVsockServer::readExactly(char* buf, size_t n, std::vector<runtime::UniqueFd>* fds) {
  auto alive = alive_;
  size_t got = 0;
  while (got < n) {
    iovec iov{buf + got, n - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = fds ? control : nullptr;
    msg.msg_controllen = fds ? sizeof control : 0;
    ssize_t r = recvmsg(connFd_.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (r > 0 && fds) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          fds->emplace_back(fd);  // owned at once: closed however the message ends
        }
      }
      if (msg.msg_flags & MSG_CTRUNC) co_return InvalidArgumentError("vhost-user: more than 16 fds with one message");
    }
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) {
      if (got == 0) co_return false;  // a clean hang-up between messages
      co_return InvalidArgumentError("vhost-user: connection closed inside a message");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return errnoError("vhost-user recvmsg");
    connWatch_->clearReadReady();
    co_await connWatch_->readable();
    if (!*alive || connWatch_->closed()) co_return false;
  }
  co_return true;
}

Task<Status> VhostUserVsockServer::writeAll(const std::string& data) {
  auto alive = alive_;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t r = send(connFd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      done += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EAGAIN) co_return errnoError("vhost-user send");
    co_await connWatch_->writable();
    if (!*alive || connWatch_->closed()) co_return CancelledError("vhost-user: server closed");
  }
  co_return OkStatus();
}

Task<Status> VhostUserVsockServer::serve() {
  auto alive = alive_;
  for (;;) {
    int fd = accept4(listenFd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      connFd_.reset(fd);
      break;
    }
    if (errno != EAGAIN && errno != EINTR) co_return errnoError("vhost-user accept");
    listenWatch_->clearReadReady();
    co_await listenWatch_->readable();
    if (!*alive) co_return CancelledError("vhost-user: server closed");
  }
  auto w = loop_.watchFd(connFd_.get());
  if (!w.ok()) co_return w.status();
  connWatch_ = *w;
  HLOG(Info, "vsock.vhost_user.connected").kv("socket", options_.socketPath).kv("guest_cid", options_.device.guestCid);
  Status result = OkStatus();
  for (;;) {
    char header[kVhostHeaderSize];
    std::vector<runtime::UniqueFd> fds;
    auto more = co_await readExactly(header, sizeof header, &fds);
    if (!*alive) co_return CancelledError("vhost-user: server closed");
    if (!more.ok() || !*more) {
      if (!more.ok()) result = more.status();
      break;
    }
    uint32_t size = 0;
    auto m = parseVhostHeader(std::string_view(header, sizeof header), &size);
    if (!m.ok()) {
      result = m.status();  // the framing cannot be trusted any more
      break;
    }
    m->payload.resize(size);
    if (size) {
      auto got = co_await readExactly(m->payload.data(), size, &fds);
      if (!*alive) co_return CancelledError("vhost-user: server closed");
      if (!got.ok() || !*got) {
        result = got.ok() ? InvalidArgumentError("vhost-user: connection closed inside a message") : got.status();
        break;
      }
    }
    m->fds = std::move(fds);
    uint32_t request = m->request;
    HLOG(Debug, "vsock.vhost_user.message").kv("request", vhostRequestName(request)).kv("size", size);
    auto r = backend_.handle(std::move(*m));
    if (!r.status.ok()) HLOG(Warn, "vsock.vhost_user.refused").kv("error", r.status.message());
    if (r.reply) {
      Status st = co_await writeAll(*r.reply);
      if (!*alive) co_return CancelledError("vhost-user: server closed");
      if (!st.ok()) {
        result = st;
        break;
      }
    }
  }
  loop_.unwatch(connWatch_);
  connWatch_.reset();
  connFd_.reset();  // QEMU sees the hang-up
  HLOG(Info, "vsock.vhost_user.disconnected").kv("socket", options_.socketPath).kv("error", result.message());
  device_->resetAll();
  pending_.clear();
  frontOffset_ = 0;
  co_return result;
}

void VhostUserVsockServer::onQueueChange(int q) {
  Vring& v = backend_.vring(q);
  if (kickWatch_[q] && (!v.kick || kickWatch_[q]->fd() != v.kick.get() || !v.running)) {
    loop_.unwatch(kickWatch_[q]);
    kickWatch_[q].reset();
  }
  if (v.running && !kickWatch_[q]) {
    fcntl(v.kick.get(), F_SETFL, fcntl(v.kick.get(), F_GETFL) | O_NONBLOCK);
    auto w = loop_.watchFd(v.kick.get());
    if (w.ok()) {
      kickWatch_[q] = *w;
      runtime::spawn(kickLoop(q, ++kickGeneration_[q], *w));
    }
  }
  // A queue that stops keeps its connections: QEMU stops the rings
  // (GET_VRING_BASE) whenever the VM pauses and sets them up again on resume,
  // as it does for the kernel's vhost-vsock; what waits for rx is delivered
  // then. (A guest that resets its driver resets its own sockets; QEMU's
  // -no-reboot ends the VM, and this process, on a reboot.)
  if (v.running) loop_.post([this, alive = alive_, q] {
    if (!*alive) return;
    q == 1 ? processTx() : deliverRx();  // what the guest queued before the ring was ours
    // One interrupt for whatever was used across the switch: a notification
    // sent to a call fd QEMU has just replaced can be lost, and a guest
    // waiting for credit or tx buffers would wait forever. A spare one costs
    // the guest a look at its used ring.
    Vring& now = backend_.vring(q);
    if (now.running && now.call) {
      uint64_t one = 1;
      (void)!write(now.call.get(), &one, sizeof one);
    }
  });
}

Task<void> VhostUserVsockServer::kickLoop(int q, uint64_t generation, std::shared_ptr<runtime::FdWatch> watch) {
  auto alive = alive_;
  for (;;) {
    uint64_t count;
    while (read(watch->fd(), &count, sizeof count) == sizeof count) {
    }
    if (q == 1) {
      processTx();
    } else {
      deliverRx();
    }
    watch->clearReadReady();
    co_await watch->readable();
    if (!*alive || watch->closed() || kickGeneration_[q] != generation) co_return;
  }
}

void VhostUserVsockServer::notify(int q) {
  Vring& v = backend_.vring(q);
  if (!v.call || !v.queue.guestWantsInterrupt()) return;
  uint64_t one = 1;
  (void)!write(v.call.get(), &one, sizeof one);
}

void VhostUserVsockServer::processTx() {
  Vring& v = backend_.vring(1);
  bool used = false;
  while (v.running && v.queue.ready()) {
    auto chain = v.queue.pop();
    if (!chain.ok()) {
      HLOG(Error, "vsock.tx.broken").kv("error", chain.status().message());
      break;
    }
    if (!*chain) break;
    std::string bytes = (*chain)->gather(kHeaderSize + kMaxPayload);
    v.queue.push((*chain)->head, 0);
    used = true;
    auto h = parseHeader(bytes);
    if (!h.ok() || bytes.size() - kHeaderSize < h->len || h->len > kMaxPayload) {
      HLOG(Warn, "vsock.tx.malformed").kv("bytes", bytes.size()).kv("len", h.ok() ? h->len : 0);
      continue;
    }
    ++fromGuest_;
    Packet p{*h, bytes.substr(kHeaderSize, h->len)};
    device_->onGuestPacket(std::move(p));
    if (!*alive_) return;
  }
  if (used) notify(1);
}

void VhostUserVsockServer::sendToGuest(Packet p) {
  bool wasEmpty = pending_.empty();
  pending_.push_back(std::move(p));
  if (wasEmpty) loop_.post([this, alive = alive_] {
    if (*alive) deliverRx();
  });
}

void VhostUserVsockServer::deliverRx() {
  Vring& v = backend_.vring(0);
  bool used = false;
  while (!pending_.empty() && v.running && v.queue.ready()) {
    auto chain = v.queue.pop();
    if (!chain.ok()) {
      HLOG(Error, "vsock.rx.broken").kv("error", chain.status().message());
      break;
    }
    if (!*chain) break;  // no buffers: the guest kicks rx when it posts more
    used = true;
    uint64_t room = (*chain)->writableBytes;
    Packet& p = pending_.front();
    size_t left = p.payload.size() - frontOffset_;
    if (room < kHeaderSize || (left > 0 && room == kHeaderSize)) {
      HLOG(Warn, "vsock.rx.buffer_too_small").kv("bytes", room);
      v.queue.push((*chain)->head, 0);
      continue;
    }
    size_t part = std::min<uint64_t>(left, room - kHeaderSize);
    Header h = p.hdr;
    h.len = static_cast<uint32_t>(part);
    std::string bytes;
    bytes.reserve(kHeaderSize + part);
    appendHeader(bytes, h);
    bytes.append(p.payload, frontOffset_, part);
    uint32_t written = (*chain)->scatter(bytes);
    v.queue.push((*chain)->head, written);
    ++toGuest_;
    frontOffset_ += part;
    if (frontOffset_ == p.payload.size()) {
      pending_.pop_front();
      frontOffset_ = 0;
    }
  }
  if (used) notify(0);
}

}  // namespace hcsshim::vsock
