#include "src/runtime/fd_stream.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace hcsshim::runtime {

StatusOr<std::unique_ptr<FdStream>> FdStream::create(EpollEventLoop& loop, int fd, Kind kind, std::string name) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int err = errno;
    ::close(fd);
    return errnoStatus(err, "fcntl(O_NONBLOCK)", name);
  }
  auto watch = loop.watchFd(fd);
  if (!watch.ok()) {
    ::close(fd);
    return watch.status();
  }
  auto s = std::make_shared<State>(State{&loop, fd, kind, std::move(*watch)});
  return std::unique_ptr<FdStream>(new FdStream(std::move(s), std::move(name)));
}

FdStream::~FdStream() { close(); }

Task<StatusOr<size_t>> FdStream::read(std::span<char> buf) { return readImpl(state_, buf); }

Task<Status> FdStream::write(std::string_view data) { return writeImpl(state_, data); }

Task<StatusOr<size_t>> FdStream::readImpl(std::shared_ptr<State> s, std::span<char> buf) {
  if (s->kind == Kind::kPipeWrite) co_return InvalidArgumentError("read from the write end of a pipe");
  for (;;) {
    if (s->closed) co_return CancelledError("stream closed");
    if (buf.empty()) co_return size_t{0};
    if (!s->watch->readReady()) {
      // The last read drained the buffer: wait for the next edge rather than
      // spend a syscall on EAGAIN.
      co_await s->watch->readable();
      continue;
    }
    ssize_t n = ::read(s->fd, buf.data(), buf.size());
    if (n > 0) {
      if (static_cast<size_t>(n) < buf.size()) s->watch->clearReadReady();
      co_return static_cast<size_t>(n);
    }
    if (n == 0) co_return size_t{0};
    if (errno == EINTR) continue;
    // A pty master reads EIO once every slave descriptor is closed: that is its EOF.
    if (errno == EIO && s->kind == Kind::kPtyMaster) co_return size_t{0};
    if (errno != EAGAIN) co_return errnoStatus(errno, "read");
    s->watch->clearReadReady();
  }
}

Task<Status> FdStream::writeImpl(std::shared_ptr<State> s, std::string_view data) {
  if (s->kind == Kind::kPipeRead) co_return InvalidArgumentError("write to the read end of a pipe");
  size_t off = 0;
  while (off < data.size()) {
    if (s->closed) co_return CancelledError("stream closed");
    if (s->writeShut) co_return FailedPreconditionError("write after shutdownWrite");
    ssize_t n = ::write(s->fd, data.data() + off, data.size() - off);
    if (n >= 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return errnoStatus(errno, "write");
    co_await s->watch->writable();
  }
  co_return OkStatus();
}

Status FdStream::shutdownWrite() {
  auto& s = *state_;
  if (s.closed) return CancelledError("stream closed");
  if (s.writeShut) return OkStatus();
  switch (s.kind) {
    case Kind::kSocket:
      if (::shutdown(s.fd, SHUT_WR) < 0) return errnoStatus(errno, "shutdown", name_);
      s.writeShut = true;
      return OkStatus();
    case Kind::kPipeWrite:
      // A pipe has no half-close: closing the write end is the EOF.
      close();
      return OkStatus();
    case Kind::kPipeRead:
      return InvalidArgumentError("shutdownWrite on the read end of a pipe");
    case Kind::kPtyMaster: {
      // A terminal has no half-close; ^D at the start of a line is end-of-file.
      static const char kEot = 0x04;
      if (::write(s.fd, &kEot, 1) < 0) return errnoStatus(errno, "write(EOT)", name_);
      return OkStatus();
    }
  }
  return OkStatus();
}

Status FdStream::setWindowSize(uint16_t rows, uint16_t columns) {
  if (state_->kind != Kind::kPtyMaster) return FailedPreconditionError("not a terminal");
  if (state_->closed) return CancelledError("stream closed");
  struct winsize ws {};
  ws.ws_row = rows;
  ws.ws_col = columns;
  if (ioctl(state_->fd, TIOCSWINSZ, &ws) < 0) return errnoStatus(errno, "ioctl(TIOCSWINSZ)", name_);
  return OkStatus();
}

void FdStream::close() {
  auto& s = *state_;
  if (s.closed) return;
  s.closed = true;
  s.loop->unwatch(s.watch);
  ::close(s.fd);
}

StatusOr<PeerCredentials> FdStream::peerCredentials() const {
  if (state_->kind != Kind::kSocket) return UnimplementedError("peer credentials of a pipe");
  if (state_->closed) return CancelledError("stream closed");
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(state_->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    return errnoStatus(errno, "getsockopt(SO_PEERCRED)", name_);
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

}  // namespace hcsshim::runtime
