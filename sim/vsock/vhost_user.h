// vhost_user.h: the backend side of the vhost-user protocol
// (qemu docs/interop/vhost-user.rst) for a vsock device, as a pure message
// handler: bytes and fds in, a reply and ring state out. The socket I/O is
// server.h; this part is what the unit tests and the fuzz target drive.
//
// Framing: u32 request, u32 flags (bits 0-1 version = 1, 0x4 REPLY,
// 0x8 NEED_REPLY), u32 size, then `size` payload bytes; fds as SCM_RIGHTS.
// Replies carry flags exactly 0x5. We offer VERSION_1 and
// PROTOCOL_FEATURES (bit 30), and the protocol features MQ, REPLY_ACK and
// CONFIG, which QEMU's vhost-user-vsock requires; the device config is the
// guest CID (le64). Queues 0 (rx) and 1 (tx) are ours; 2 (event) is QEMU's.
//
// A malformed message (wrong payload size for its request, a queue index
// out of range, a size that is not a power of two, a ring or region that
// does not fit, an unknown request) is refused with a precise error and
// changes nothing; the caller logs it and, when the message asked for a
// reply, answers with failure.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/vsock/guest_memory.h"
#include "sim/vsock/virtqueue.h"
#include "src/common/status.h"
#include "src/runtime/unique_fd.h"

namespace hcsshim::vsock {

inline constexpr size_t kVhostHeaderSize = 12;
inline constexpr uint32_t kVhostMaxPayload = 4096;
inline constexpr int kVhostQueues = 2;

enum VhostRequest : uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kSetVringErr = 14,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kGetConfig = 24,
  kSetConfig = 25,
};

inline constexpr uint64_t kFeatureVersion1 = 1ull << 32;
inline constexpr uint64_t kFeatureProtocolFeatures = 1ull << 30;
inline constexpr uint64_t kOfferedFeatures = kFeatureVersion1 | kFeatureProtocolFeatures;
inline constexpr uint64_t kProtocolMq = 1ull << 0, kProtocolReplyAck = 1ull << 3, kProtocolConfig = 1ull << 9;
inline constexpr uint64_t kOfferedProtocolFeatures = kProtocolMq | kProtocolReplyAck | kProtocolConfig;

struct VhostMessage {
  uint32_t request = 0;
  uint32_t flags = 0;
  std::string payload;
  std::vector<runtime::UniqueFd> fds;
};

// parseVhostHeader: request, flags, size of a 12-byte header;
// InvalidArgument for a wrong version or a payload over kVhostMaxPayload.
StatusOr<VhostMessage> parseVhostHeader(std::string_view header, uint32_t* size);
const char* vhostRequestName(uint32_t request);

struct Vring {
  uint16_t num = 0;
  RingAddresses addrs;
  bool addrsSet = false;
  uint16_t base = 0;
  runtime::UniqueFd kick, call, err;
  bool enabled = false;
  bool running = false;  // set up and serving
  SplitQueue queue;
};

class VhostUserBackend {
 public:
  explicit VhostUserBackend(uint64_t guestCid) : guestCid_(guestCid) {}

  struct Result {
    Status status;                      // not ok: the message was refused
    std::optional<std::string> reply;   // header + payload to send back
  };
  Result handle(VhostMessage m);

  Vring& vring(int i) { return vrings_[i]; }
  const GuestMemory* memory() const { return memory_.get(); }
  uint64_t features() const { return features_; }
  // onQueueChange: a queue started, stopped, or got a new kick or call fd.
  std::function<void(int queue)> onQueueChange;

 private:
  Status apply(VhostMessage& m, std::optional<std::string>& reply);
  Status queueIndex(const std::string& payload, size_t want, uint32_t* index, bool fdForm = false);
  void update(int i);  // start or stop a queue as its state allows
  bool protocolNegotiated() const { return features_ & kFeatureProtocolFeatures; }

  uint64_t guestCid_;
  uint64_t features_ = 0, protocolFeatures_ = 0;
  std::unique_ptr<GuestMemory> memory_;
  Vring vrings_[kVhostQueues];
};

}  // namespace hcsshim::vsock
