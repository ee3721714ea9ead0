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
    : io_(std::move(stream)), maxMessageSize_(maxMessageSize) {}

Channel::~Channel() = default;

Task<StatusOr<Frame>> Channel::recv() {
  if (io_.closed()) co_return CancelledError("channel closed");
  Status st = co_await io_.fill(kHeaderSize);
  if (!st.ok()) {
    if (st.message().starts_with("unexpected EOF")) {
      co_return UnavailableError("truncated ttrpc header: " + st.message());
    }
    co_return st;
  }
  Frame f;
  f.header = decodeHeader(io_.data());
  io_.consume(kHeaderSize);
  if (f.header.length > maxMessageSize_) {
    // Discard the data so the next header is found where it should be.
    st = co_await io_.skip(f.header.length);
    if (!st.ok()) co_return UnavailableError("EOF inside oversized ttrpc message: " + st.message());
    f.oversize = true;
    co_return f;
  }
  st = co_await io_.fill(f.header.length);
  if (!st.ok()) co_return UnavailableError("truncated ttrpc message on stream " + std::to_string(f.header.streamId) +
                                           ": " + st.message());
  f.payload.assign(io_.data(), f.header.length);
  io_.consume(f.header.length);
  co_return f;
}

Status Channel::send(uint32_t streamId, MessageType type, uint8_t flags, std::string_view payload) {
  if (io_.closed()) return UnavailableError("ttrpc channel closed");
  if (!io_.writeError().ok()) return UnavailableError("ttrpc: " + io_.writeError().message());
  if (payload.size() > maxMessageSize_) {
    return ResourceExhaustedError("message length " + std::to_string(payload.size()) +
                                  " exceeds maximum message size of " + std::to_string(maxMessageSize_));
  }
  char hdr[kHeaderSize];
  encodeHeader(FrameHeader{static_cast<uint32_t>(payload.size()), streamId, static_cast<uint8_t>(type), flags}, hdr);
  return io_.send(std::string_view(hdr, kHeaderSize), payload);
}

}  // namespace hcsshim::ttrpc
