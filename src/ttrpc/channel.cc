#include "src/ttrpc/channel.h"

#include <algorithm>

#include "src/common/log.h"

namespace hcsshim::ttrpc {

using runtime::Task;

void encodeHeader(const FrameHeader& h, char out[kHeaderSize]) {
  out[0] = static_cast<char>(h.length >> 24);
  out[1] = static_cast<char>(h.length >> 16);
  out[2] = static_cast<char>(h.length >> 8);
  out[3] = static_cast<char>(h.length);
  out[4] = static_cast<char>(h.streamId >> 24);
  out[5] = static_cast<char>(h.streamId >> 16);
  out[6] = static_cast<char>(h.streamId >> 8);
  out[7] = static_cast<char>(h.streamId);
  out[8] = static_cast<char>(h.type);
  out[9] = static_cast<char>(h.flags);
}

FrameHeader decodeHeader(const char in[kHeaderSize]) {
  auto u = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[i])); };
  FrameHeader h;
  h.length = u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
  h.streamId = u(4) << 24 | u(5) << 16 | u(6) << 8 | u(7);
  h.type = static_cast<uint8_t>(u(8));
  h.flags = static_cast<uint8_t>(u(9));
  return h;
}

Channel::Channel(std::unique_ptr<runtime::Stream> stream, uint32_t maxMessageSize)
    : s_(std::make_shared<State>()) {
  s_->stream = std::move(stream);
  s_->maxMessageSize = maxMessageSize;
}

Channel::~Channel() { close(); }

void Channel::close() {
  if (s_->closed) return;
  s_->closed = true;
  s_->stream->close();
}

// fill makes at least `want` unread bytes available in inbuf (or fails).
Task<Status> Channel::fill(State& s, size_t want) {
  constexpr size_t kReadChunk = 64 * 1024;
  while (s.unread() < want) {
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

Task<StatusOr<Frame>> Channel::recv() {
  std::shared_ptr<State> keep = s_;  // the channel may be dropped while we wait
  State& s = *keep;
  if (s.closed) co_return CancelledError("channel closed");
  Status st = co_await fill(s, kHeaderSize);
  if (!st.ok()) {
    if (st.message().starts_with("unexpected EOF")) {
      co_return UnavailableError("truncated ttrpc header: " + st.message());
    }
    co_return st;
  }
  Frame f;
  f.header = decodeHeader(s.inbuf.get() + s.inHead);
  s.inHead += kHeaderSize;
  if (f.header.length > s.maxMessageSize) {
    // Discard the data so the next header is found where it should be.
    size_t left = f.header.length;
    while (left > 0) {
      size_t avail = s.unread();
      if (avail == 0) {
        Status fs = co_await fill(s, 1);
        if (!fs.ok()) co_return UnavailableError("EOF inside oversized ttrpc message: " + fs.message());
        continue;
      }
      size_t take = std::min(avail, left);
      s.inHead += take;
      left -= take;
    }
    f.oversize = true;
    co_return f;
  }
  st = co_await fill(s, f.header.length);
  if (!st.ok()) co_return UnavailableError("truncated ttrpc message on stream " + std::to_string(f.header.streamId) +
                                           ": " + st.message());
  f.payload.assign(s.inbuf.get() + s.inHead, f.header.length);
  s.inHead += f.header.length;
  co_return f;
}

Status Channel::send(uint32_t streamId, MessageType type, uint8_t flags, std::string_view payload) {
  if (s_->closed) return UnavailableError("ttrpc channel closed");
  if (!s_->writeError.ok()) return s_->writeError;
  if (payload.size() > s_->maxMessageSize) {
    return ResourceExhaustedError("message length " + std::to_string(payload.size()) +
                                  " exceeds maximum message size of " + std::to_string(s_->maxMessageSize));
  }
  char hdr[kHeaderSize];
  encodeHeader(FrameHeader{static_cast<uint32_t>(payload.size()), streamId, static_cast<uint8_t>(type), flags}, hdr);
  s_->outbox.append(hdr, kHeaderSize);
  s_->outbox.append(payload);
  if (!s_->flushing) {
    s_->flushing = true;
    runtime::spawn(flush(s_));
  }
  return OkStatus();
}

Task<void> Channel::flush(std::shared_ptr<State> s) {
  std::string writing;
  while (!s->outbox.empty() && !s->closed) {
    writing.clear();
    writing.swap(s->outbox);
    Status st = co_await s->stream->write(writing);
    if (!st.ok()) {
      s->writeError = UnavailableError("ttrpc: connection failed: write: " + st.message());
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
}

}  // namespace hcsshim::ttrpc
