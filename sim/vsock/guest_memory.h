// guest_memory.h: a VM's RAM as a vhost-user backend sees it - the regions
// of SET_MEMORY_TABLE, each an fd QEMU shares, mapped into this process.
//
// Two address spaces point into it: guest physical addresses (what
// descriptors carry) and QEMU's user addresses (what SET_VRING_ADDR
// carries). Every access is bounds-checked against one region: a range
// that is not wholly inside a region is an error, never a pointer outside
// a mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/common/status.h"
#include "src/runtime/unique_fd.h"

namespace hcsshim::vsock {

struct MemoryRegion {
  uint64_t guestPhys = 0;
  uint64_t size = 0;
  uint64_t userAddr = 0;
  uint64_t mmapOffset = 0;
};

class GuestMemory {
 public:
  GuestMemory() = default;
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // map: one region per fd (same order). InvalidArgument for an empty or
  // overflowing region, regions overlapping in either address space, or an
  // fd that cannot be mapped for size + mmapOffset bytes.
  static StatusOr<std::unique_ptr<GuestMemory>> map(const std::vector<MemoryRegion>& regions,
                                                    std::vector<runtime::UniqueFd> fds);

  // fromGuest / fromUser: a pointer to `len` bytes at that address, or
  // InvalidArgument naming the range (also when `write` is asked of a
  // read-only region: a read-only file, e.g. a VPMem image, is mapped
  // read-only).
  StatusOr<uint8_t*> fromGuest(uint64_t gpa, uint64_t len, bool write = false) const;
  StatusOr<uint8_t*> fromUser(uint64_t uaddr, uint64_t len, bool write = false) const;
  size_t regionCount() const { return regions_.size(); }

 private:
  struct Mapped {
    MemoryRegion r;
    uint8_t* mapping = nullptr;  // mmap of size + mmapOffset
    uint8_t* base = nullptr;     // mapping + mmapOffset: guest address r.guestPhys
    bool readOnly = false;
  };
  std::vector<Mapped> regions_;
};

}  // namespace hcsshim::vsock
