#include "sim/vsock/guest_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>

namespace hcsshim::vsock {

GuestMemory::~GuestMemory() {
  for (auto& m : regions_) munmap(m.mapping, m.r.size + m.r.mmapOffset);
}

namespace {

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) { return a < b + blen && b < a + alen; }

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::map(const std::vector<MemoryRegion>& regions,
                                                        std::vector<runtime::UniqueFd> fds) {
  if (regions.size() != fds.size()) {
    return InvalidArgumentError("memory table: " + std::to_string(regions.size()) + " regions but " +
                                std::to_string(fds.size()) + " fds");
  }
  auto mem = std::unique_ptr<GuestMemory>(new GuestMemory());
  for (size_t i = 0; i < regions.size(); ++i) {
    const MemoryRegion& r = regions[i];
    std::string name = "memory region " + std::to_string(i);
    if (r.size == 0 || r.guestPhys + r.size < r.guestPhys || r.userAddr + r.size < r.userAddr ||
        r.mmapOffset + r.size < r.mmapOffset) {
      return InvalidArgumentError(name + ": size " + hex(r.size) + " is empty or overflows");
    }
    for (const auto& m : mem->regions_) {
      if (overlaps(r.guestPhys, r.size, m.r.guestPhys, m.r.size) || overlaps(r.userAddr, r.size, m.r.userAddr, m.r.size)) {
        return InvalidArgumentError(name + ": overlaps another region");
      }
    }
    // A mapping past the end of its file would fault (SIGBUS) on access:
    // the region must lie inside the file.
    struct stat st {};
    if (fstat(fds[i].get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return InvalidArgumentError(name + ": its fd is not a regular (memfd or file) mapping");
    }
    if (static_cast<uint64_t>(st.st_size) < r.size + r.mmapOffset) {
      return InvalidArgumentError(name + ": size " + hex(r.size) + " + offset " + hex(r.mmapOffset) +
                                  " exceeds its file's " + hex(static_cast<uint64_t>(st.st_size)) + " bytes");
    }
    void* p = mmap(nullptr, r.size + r.mmapOffset, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i].get(), 0);
    bool readOnly = false;
    if (p == MAP_FAILED && errno == EACCES) {  // an O_RDONLY file: a read-only memory backend
      p = mmap(nullptr, r.size + r.mmapOffset, PROT_READ, MAP_SHARED, fds[i].get(), 0);
      readOnly = true;
    }
    if (p == MAP_FAILED) {
      return InvalidArgumentError(name + ": mmap of " + hex(r.size + r.mmapOffset) + " bytes: " + std::strerror(errno));
    }
    auto* base = static_cast<uint8_t*>(p);
    mem->regions_.push_back(Mapped{r, base, base + r.mmapOffset, readOnly});
  }
  return mem;
}

StatusOr<uint8_t*> GuestMemory::fromGuest(uint64_t gpa, uint64_t len, bool write) const {
  for (const auto& m : regions_) {
    if (gpa >= m.r.guestPhys && gpa - m.r.guestPhys <= m.r.size && len <= m.r.size - (gpa - m.r.guestPhys)) {
      if (write && m.readOnly) return InvalidArgumentError("guest range " + hex(gpa) + "+" + hex(len) + " is read-only");
      return m.base + (gpa - m.r.guestPhys);
    }
  }
  return InvalidArgumentError("guest range " + hex(gpa) + "+" + hex(len) + " is not inside guest memory");
}

StatusOr<uint8_t*> GuestMemory::fromUser(uint64_t ua, uint64_t len, bool write) const {
  for (const auto& m : regions_) {
    if (ua >= m.r.userAddr && ua - m.r.userAddr <= m.r.size && len <= m.r.size - (ua - m.r.userAddr)) {
      if (write && m.readOnly) return InvalidArgumentError("user range " + hex(ua) + "+" + hex(len) + " is read-only");
      return m.base + (ua - m.r.userAddr);
    }
  }
  return InvalidArgumentError("user range " + hex(ua) + "+" + hex(len) + " is not inside guest memory");
}

}  // namespace hcsshim::vsock
