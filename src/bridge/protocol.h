// protocol.h: the host <-> guest bridge protocol of Linux utility VMs -
// framing and message types (../shared/facts/gcs-bridge-protocol.md).
//
// A message is a 16-byte little-endian header - u32 type, u32 size (header
// included), u64 id - followed by a JSON payload. Sizes outside 16..64 KiB are
// refused by both ends. A type is kind(4 bits) | category(8) | id(12) |
// version(8); a response is its request's type with kind 2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "src/common/status.h"
#include "src/runtime/buffered_stream.h"

namespace hcsshim::bridge {

inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kMaxMessageSize = 0x10000;  // header included
inline constexpr uint32_t kBridgePort = 0x40000000;
inline constexpr uint32_t kFirstStdioPort = 0x40000001;
inline constexpr uint32_t kEntropyPort = 1;
inline constexpr uint32_t kLogPort = 109;
inline constexpr uint32_t kProtocolVersion = 4;
inline constexpr uint32_t kInfiniteTimeout = 0xFFFFFFFF;
// The utility VM itself, as a ContainerId.
inline constexpr std::string_view kUvmContainerId = "00000000-0000-0000-0000-000000000000";

enum class Kind : uint32_t { kRequest = 1, kResponse = 2, kNotification = 3 };

namespace msg {
inline constexpr uint32_t kCreate = 0x10100101;
inline constexpr uint32_t kStart = 0x10100201;
inline constexpr uint32_t kShutdownGraceful = 0x10100301;
inline constexpr uint32_t kShutdownForced = 0x10100401;
inline constexpr uint32_t kExecuteProcess = 0x10100501;
inline constexpr uint32_t kWaitForProcess = 0x10100601;
inline constexpr uint32_t kSignalProcess = 0x10100701;
inline constexpr uint32_t kResizeConsole = 0x10100801;
inline constexpr uint32_t kGetProperties = 0x10100901;
inline constexpr uint32_t kModifySettings = 0x10100A01;
inline constexpr uint32_t kNegotiateProtocol = 0x10100B01;
inline constexpr uint32_t kDumpStacks = 0x10100C01;
inline constexpr uint32_t kDeleteContainerState = 0x10100D01;
inline constexpr uint32_t kUpdateContainer = 0x10100E01;
inline constexpr uint32_t kLifecycleNotification = 0x10100F01;
inline constexpr uint32_t kModifyServiceSettings = 0x10200101;
inline constexpr uint32_t kContainerNotification = 0x30100101;
}  // namespace msg

constexpr Kind kindOf(uint32_t type) { return static_cast<Kind>(type >> 28); }
constexpr uint32_t responseTypeOf(uint32_t requestType) { return (requestType & 0x0FFFFFFFu) | 0x20000000u; }
constexpr uint32_t requestTypeOf(uint32_t responseType) { return (responseType & 0x0FFFFFFFu) | 0x10000000u; }
// typeName: "ExecuteProcess", "ExecuteProcess response", or "0x........" for unknown types.
std::string typeName(uint32_t type);

struct Header {
  uint32_t type = 0;
  uint32_t size = 0;  // header included
  uint64_t id = 0;
  friend bool operator==(const Header&, const Header&) = default;
};

void encodeHeader(const Header& h, char out[kHeaderSize]);
Header decodeHeader(const char in[kHeaderSize]);
// checkHeader refuses a size outside kHeaderSize..kMaxMessageSize
// (InvalidArgument naming the size and the message id).
Status checkHeader(const Header& h);

struct Frame {
  Header header;
  std::string payload;  // JSON
};

// encodeFrame: header + payload; ResourceExhausted if the message would
// exceed kMaxMessageSize.
StatusOr<std::string> encodeFrame(uint32_t type, uint64_t id, std::string_view payload);

// parseFrame parses one whole frame from the front of `data` (fuzzing and
// tests): the frame and the bytes it used; Unavailable if more bytes are
// needed, InvalidArgument for a bad size.
StatusOr<std::pair<Frame, size_t>> parseFrame(std::string_view data);

// Connection: frames over a stream (buffered reads, batched ordered writes).
// A bad size breaks the connection: framing is lost, the peer re-dials.
class Connection {
 public:
  explicit Connection(std::unique_ptr<runtime::Stream> stream) : io_(std::move(stream)) {}
  // recv: the next frame. Clean EOF between frames -> Unavailable with
  // isCleanEof(); truncated or out-of-range frames -> Unavailable /
  // InvalidArgument (the caller drops the connection).
  runtime::Task<StatusOr<Frame>> recv();
  Status send(uint32_t type, uint64_t id, std::string_view payload);
  // drained completes once everything sent so far has been written.
  runtime::Task<Status> drained() { return io_.drained(); }
  void close() { io_.close(); }
  bool closed() const { return io_.closed(); }
  runtime::Stream& stream() { return io_.stream(); }

 private:
  runtime::BufferedStream io_;
};

}  // namespace hcsshim::bridge
