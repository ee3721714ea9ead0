#include "sim/vsock/virtqueue.h"

#include <atomic>
#include <cstring>

namespace hcsshim::vsock {

namespace {

constexpr uint16_t kDescNext = 1, kDescWrite = 2, kDescIndirect = 4;
constexpr uint16_t kAvailNoInterrupt = 1;

uint16_t load16(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE); }

}  // namespace

std::string Chain::gather(size_t max) const {
  std::string out;
  for (const auto& b : buffers) {
    if (b.writable || out.size() >= max) continue;
    size_t n = std::min<size_t>(b.len, max - out.size());
    out.append(reinterpret_cast<const char*>(b.data), n);
  }
  return out;
}

uint32_t Chain::scatter(std::string_view data) const {
  size_t done = 0;
  for (const auto& b : buffers) {
    if (!b.writable || done == data.size()) continue;
    size_t n = std::min<size_t>(b.len, data.size() - done);
    std::memcpy(b.data, data.data() + done, n);
    done += n;
  }
  return static_cast<uint32_t>(done);
}

Status SplitQueue::setup(const GuestMemory& mem, uint16_t num, RingAddresses a, uint16_t lastAvail) {
  reset();
  if (num == 0 || (num & (num - 1)) != 0 || num > 32768) {
    return fail(InvalidArgumentError("queue size " + std::to_string(num) + " is not a power of two up to 32768"));
  }
  if (a.desc % 16 || a.avail % 2 || a.used % 4) return fail(InvalidArgumentError("ring addresses misaligned"));
  auto desc = mem.fromUser(a.desc, uint64_t{16} * num);
  auto avail = mem.fromUser(a.avail, 4 + uint64_t{2} * num + 2);
  auto used = mem.fromUser(a.used, 4 + uint64_t{8} * num + 2, /*write=*/true);
  if (!desc.ok()) return fail(InvalidArgumentError("descriptor table: " + desc.status().message()));
  if (!avail.ok()) return fail(InvalidArgumentError("avail ring: " + avail.status().message()));
  if (!used.ok()) return fail(InvalidArgumentError("used ring: " + used.status().message()));
  mem_ = &mem;
  num_ = num;
  desc_ = *desc;
  avail_ = *avail;
  used_ = *used;
  lastAvail_ = lastAvail;
  usedIdx_ = load16(used_ + 2);
  return OkStatus();
}

StatusOr<std::optional<Chain>> SplitQueue::pop() {
  if (!ready()) return fail(FailedPreconditionError("queue is not set up"));
  uint16_t idx = load16(avail_ + 2);
  if (idx == lastAvail_) return std::optional<Chain>();
  if (static_cast<uint16_t>(idx - lastAvail_) > num_) {
    return fail(InvalidArgumentError("avail index " + std::to_string(idx) + " is more than " + std::to_string(num_) +
                                     " ahead of " + std::to_string(lastAvail_)));
  }
  uint16_t head;
  std::memcpy(&head, avail_ + 4 + 2 * (lastAvail_ % num_), 2);
  Chain c;
  c.head = head;
  uint16_t i = head;
  for (uint32_t n = 0;; ++n) {
    if (i >= num_) {
      return fail(InvalidArgumentError("descriptor index " + std::to_string(i) + " outside a queue of " +
                                       std::to_string(num_)));
    }
    if (n >= num_) return fail(InvalidArgumentError("descriptor chain from " + std::to_string(head) + " loops"));
    uint8_t d[16];
    std::memcpy(d, desc_ + 16 * i, 16);  // one copy: the guest cannot change it under the checks
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
    std::memcpy(&addr, d, 8);
    std::memcpy(&len, d + 8, 4);
    std::memcpy(&flags, d + 12, 2);
    std::memcpy(&next, d + 14, 2);
    if (flags & kDescIndirect) {
      return fail(InvalidArgumentError("descriptor " + std::to_string(i) + ": INDIRECT was not negotiated"));
    }
    bool w = flags & kDescWrite;
    auto p = mem_->fromGuest(addr, len, w);
    if (!p.ok()) return fail(InvalidArgumentError("descriptor " + std::to_string(i) + ": " + p.status().message()));
    c.buffers.push_back(Buffer{*p, len, w});
    (w ? c.writableBytes : c.readableBytes) += len;
    if (!(flags & kDescNext)) break;
    i = next;
  }
  ++lastAvail_;
  return std::optional<Chain>(std::move(c));
}

void SplitQueue::push(uint16_t head, uint32_t written) {
  if (!ready()) return;
  uint8_t* e = used_ + 4 + 8 * (usedIdx_ % num_);
  uint32_t id = head;
  std::memcpy(e, &id, 4);
  std::memcpy(e + 4, &written, 4);
  ++usedIdx_;
  __atomic_store_n(reinterpret_cast<uint16_t*>(used_ + 2), usedIdx_, __ATOMIC_RELEASE);
}

bool SplitQueue::guestWantsInterrupt() const {
  if (!ready()) return false;
  std::atomic_thread_fence(std::memory_order_seq_cst);  // our used idx store before their flags load
  return !(load16(avail_) & kAvailNoInterrupt);
}

}  // namespace hcsshim::vsock
