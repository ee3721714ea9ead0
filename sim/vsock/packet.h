// packet.h: virtio-vsock packets (virtio spec 1.2 section 5.10; Linux
// include/uapi/linux/virtio_vsock.h).
//
// Header, 44 bytes, packed, little-endian:
//   0 src_cid u64 | 8 dst_cid u64 | 16 src_port u32 | 20 dst_port u32 |
//   24 len u32 (payload bytes) | 28 type u16 | 30 op u16 | 32 flags u32 |
//   36 buf_alloc u32 | 40 fwd_cnt u32
// buf_alloc is the sender's receive buffer, fwd_cnt the bytes its
// application has consumed (wrapping): credit-based flow control.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "src/common/status.h"

namespace hcsshim::vsock {

inline constexpr size_t kHeaderSize = 44;
inline constexpr uint64_t kHostCid = 2;
inline constexpr uint16_t kTypeStream = 1;
// The largest payload one packet carries (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
inline constexpr uint32_t kMaxPayload = 64 * 1024;

enum class Op : uint16_t {
  kInvalid = 0,
  kRequest = 1,
  kResponse = 2,
  kRst = 3,
  kShutdown = 4,
  kRw = 5,
  kCreditUpdate = 6,
  kCreditRequest = 7,
};
inline constexpr uint32_t kShutdownRcv = 1;   // the sender will receive no more
inline constexpr uint32_t kShutdownSend = 2;  // the sender will send no more

struct Header {
  uint64_t srcCid = 0, dstCid = 0;
  uint32_t srcPort = 0, dstPort = 0;
  uint32_t len = 0;
  uint16_t type = kTypeStream;
  Op op = Op::kInvalid;
  uint32_t flags = 0;
  uint32_t bufAlloc = 0, fwdCnt = 0;
};

struct Packet {
  Header hdr;
  std::string payload;  // hdr.len bytes
};

// parseHeader: the first 44 bytes of `bytes`. InvalidArgument when shorter.
StatusOr<Header> parseHeader(std::string_view bytes);
void appendHeader(std::string& out, const Header& h);
std::string describe(const Header& h);  // "RW 3:1024 -> 2:1073741824 len 5" for logs
const char* opName(Op op);

}  // namespace hcsshim::vsock
