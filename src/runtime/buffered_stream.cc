#include "src/runtime/buffered_stream.h"

#include <algorithm>

namespace hcsshim::runtime {

BufferedStream::BufferedStream(std::unique_ptr<Stream> stream) : s_(std::make_shared<State>()) {
  s_->stream = std::move(stream);
}

BufferedStream::~BufferedStream() { close(); }

void BufferedStream::close() {
  // Closing resumes a waiting reader inline, and what it does next may
  // destroy this object (its owner tearing down): keep the state, touch no
  // member after that.
  std::shared_ptr<State> s = s_;
  if (s->closed) return;
  s->closed = true;
  s->stream->close();
  s->flushed.notifyAll();
}

Task<Status> BufferedStream::fill(size_t want) { return fillImpl(s_, want); }

// The state is held by the coroutine: the owner may be dropped while a read waits.
Task<Status> BufferedStream::fillImpl(std::shared_ptr<State> keep, size_t want) {
  constexpr size_t kReadChunk = 64 * 1024;
  State& s = *keep;
  while (s.unread() < want) {
    if (s.closed) co_return CancelledError("stream closed");
    if (s.unread() == 0) s.inHead = s.inTail = 0;
    // Make room for the rest of the message, and at least a chunk.
    size_t need = std::max(want, s.unread() + kReadChunk);
    if (s.inCap - s.inHead < need) {
      if (s.inCap < need) {
        size_t cap = std::max(need, s.inCap * 2);
        std::unique_ptr<char[]> bigger(new char[cap]);
        std::copy(s.inbuf.get() + s.inHead, s.inbuf.get() + s.inTail, bigger.get());
        s.inbuf = std::move(bigger);
        s.inCap = cap;
      } else {
        std::copy(s.inbuf.get() + s.inHead, s.inbuf.get() + s.inTail, s.inbuf.get());
      }
      s.inTail -= s.inHead;
      s.inHead = 0;
    }
    auto n = co_await s.stream->read(std::span<char>(s.inbuf.get() + s.inTail, s.inCap - s.inTail));
    if (!n.ok()) co_return n.status();
    if (*n == 0) {
      size_t have = s.unread();
      if (have == 0) co_return UnavailableError("EOF before first byte");
      co_return UnavailableError("unexpected EOF after " + std::to_string(have) + " of " + std::to_string(want) +
                                 " bytes");
    }
    s.inTail += *n;
  }
  co_return OkStatus();
}

Task<Status> BufferedStream::skip(size_t n) {
  while (n > 0) {
    if (unread() == 0) {
      HCS_CO_RETURN_IF_ERROR(co_await fill(1));
      continue;
    }
    size_t take = std::min(unread(), n);
    consume(take);
    n -= take;
  }
  co_return OkStatus();
}

Status BufferedStream::send(std::string_view head, std::string_view body) {
  if (s_->closed) return UnavailableError("connection closed");
  if (!s_->writeError.ok()) return s_->writeError;
  s_->outbox.append(head);
  s_->outbox.append(body);
  if (!s_->flushing) {
    s_->flushing = true;
    spawn(flush(s_));
  }
  return OkStatus();
}

Task<Status> BufferedStream::drained() {
  std::shared_ptr<State> keep = s_;
  while (keep->flushing && !keep->closed) co_await keep->flushed.wait();
  if (!keep->writeError.ok()) co_return keep->writeError;
  co_return keep->closed ? UnavailableError("connection closed") : OkStatus();
}

Task<void> BufferedStream::flush(std::shared_ptr<State> s) {
  std::string writing;
  while (!s->outbox.empty() && !s->closed) {
    writing.clear();
    writing.swap(s->outbox);
    Status st = co_await s->stream->write(writing);
    if (!st.ok()) {
      s->writeError = UnavailableError("connection failed: write: " + st.message());
      s->outbox.clear();
      // Closing the stream makes the reader fail too, so pending calls end.
      if (!s->closed) {
        s->closed = true;
        s->stream->close();
      }
      break;
    }
  }
  s->flushing = false;
  s->flushed.notifyAll();
}

}  // namespace hcsshim::runtime
