// channel.h: ttrpc framing over a Stream.
//
// Every ttrpc message is a 10-byte big-endian header - u32 data length
// (excluding the header), u32 stream id, u8 type, u8 flags - followed by the
// data. Data longer than the limit (4 MiB) is read and discarded so the
// connection stays in sync; the receiver answers on that stream with
// ResourceExhausted (code 8).
//
// Channel reads through a buffer (several frames per read syscall) and
// batches concurrent sends into one write. One Channel per connection, shared
// by the connection's reader and its senders.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "src/common/status.h"
#include "src/runtime/buffered_stream.h"
#include "src/runtime/transport.h"

namespace hcsshim::ttrpc {

inline constexpr size_t kHeaderSize = 10;
inline constexpr uint32_t kMaxMessageSize = 4 << 20;

enum class MessageType : uint8_t { kRequest = 0x01, kResponse = 0x02, kData = 0x03 };

struct FrameHeader {
  uint32_t length = 0;
  uint32_t streamId = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
};

void encodeHeader(const FrameHeader& h, char out[kHeaderSize]);
FrameHeader decodeHeader(const char in[kHeaderSize]);

struct Frame {
  FrameHeader header;
  std::string payload;
  // oversize: the data exceeded the limit and was discarded (payload empty).
  bool oversize = false;
};

class Channel {
 public:
  Channel(std::unique_ptr<runtime::Stream> stream, uint32_t maxMessageSize = kMaxMessageSize);
  ~Channel();

  // recv reads the next frame. A clean EOF between frames is Unavailable with
  // isCleanEof(); EOF inside a frame is Unavailable naming the byte counts.
  runtime::Task<StatusOr<Frame>> recv();

  // send queues a frame and starts writing it; frames from concurrent senders
  // are written whole and in call order. Fails if the channel is broken or the
  // payload exceeds the limit (ResourceExhausted).
  Status send(uint32_t streamId, MessageType type, uint8_t flags, std::string_view payload);

  // sending: a frame is queued or being written.
  bool sending() const { return io_.sending(); }
  // close closes the stream (pending recv fails); idempotent.
  void close() { io_.close(); }
  bool closed() const { return io_.closed(); }
  // writeError is the failure that broke the channel while writing (OK if none).
  const Status& writeError() const { return io_.writeError(); }
  runtime::Stream& stream() { return io_.stream(); }
  uint32_t maxMessageSize() const { return maxMessageSize_; }

 private:
  runtime::BufferedStream io_;
  uint32_t maxMessageSize_;
};

}  // namespace hcsshim::ttrpc
