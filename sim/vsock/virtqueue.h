// virtqueue.h: the device side of a split virtqueue (virtio 1.x, 2.7) in
// shared guest memory.
//
//   descriptor table: num x {le64 addr (guest physical), le32 len,
//                            le16 flags (NEXT 1, WRITE 2, INDIRECT 4), le16 next}
//   avail ring:       le16 flags (1 = NO_INTERRUPT), le16 idx, le16 ring[num]
//   used ring:        le16 flags, le16 idx, {le32 id, le32 len}[num]
// Indices are free-running u16; slot = idx % num. The driver (guest) writes
// avail and the descriptors; the device (we) writes used and the buffers the
// descriptors mark WRITE.
//
// The guest is not trusted: every descriptor is copied out of shared memory
// before it is checked (so it cannot change between check and use), every
// buffer must lie inside one guest memory region, a chain may not be longer
// than the queue (no loops), INDIRECT is refused (not negotiated), and an
// avail index that runs more than `num` ahead is an error. After an error
// the queue is broken: it serves nothing more until it is set up again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/vsock/guest_memory.h"
#include "src/common/status.h"

namespace hcsshim::vsock {

struct Buffer {
  uint8_t* data = nullptr;
  uint32_t len = 0;
  bool writable = false;
};

struct Chain {
  uint16_t head = 0;
  std::vector<Buffer> buffers;
  uint64_t readableBytes = 0, writableBytes = 0;
  // gather copies the readable buffers' bytes (up to max) out of guest memory.
  std::string gather(size_t max) const;
  // scatter copies `data` into the writable buffers; returns bytes written.
  uint32_t scatter(std::string_view data) const;
};

struct RingAddresses {
  uint64_t desc = 0, avail = 0, used = 0;  // QEMU user addresses
};

class SplitQueue {
 public:
  // setup: the rings of a queue of `num` entries (a power of two up to
  // 32768) at those user addresses; the used index continues from memory.
  Status setup(const GuestMemory& mem, uint16_t num, RingAddresses addrs, uint16_t lastAvail);
  bool ready() const { return desc_ != nullptr && !broken_; }
  bool broken() const { return broken_; }
  void reset() { *this = SplitQueue(); }

  // pop: the next chain the guest made available, nullopt when none.
  StatusOr<std::optional<Chain>> pop();
  // push: return a chain to the guest with `written` bytes written to it.
  void push(uint16_t head, uint32_t written);
  // guestWantsInterrupt: the avail ring does not ask for NO_INTERRUPT.
  bool guestWantsInterrupt() const;
  uint16_t lastAvail() const { return lastAvail_; }

 private:
  Status fail(Status st) {
    broken_ = true;
    return st;
  }
  const GuestMemory* mem_ = nullptr;
  uint16_t num_ = 0;
  uint8_t* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint16_t lastAvail_ = 0;
  uint16_t usedIdx_ = 0;
  bool broken_ = false;
};

}  // namespace hcsshim::vsock
