// Fuzz target: vhost-user messages (framing and payloads) into the backend,
// with real fds where a message carries them, then guest-written rings and
// descriptors popped from whatever queues came up. Nothing may crash, trap
// or touch memory outside a mapping.
//
// Input: records of {u8 request, u8 flags, u16 size, size bytes}; a record
// with request 0xff writes its bytes into guest memory at the offset in its
// first two bytes (the guest scribbling on rings and descriptors).
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "sim/vsock/packet.h"
#include "sim/vsock/vhost_user.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hcsshim::vsock;
  using hcsshim::runtime::UniqueFd;
  constexpr size_t kMem = 64 * 1024;
  UniqueFd mem(memfd_create("fuzz-ram", MFD_CLOEXEC));
  if (!mem || ftruncate(mem.get(), kMem) != 0) return 0;
  auto* ram = static_cast<uint8_t*>(mmap(nullptr, kMem, PROT_READ | PROT_WRITE, MAP_SHARED, mem.get(), 0));
  if (ram == MAP_FAILED) return 0;
  {
    VhostUserBackend backend(3);
    size_t at = 0;
    int records = 0;
    while (at + 4 <= size && records++ < 64) {
      uint8_t req = data[at], flags = data[at + 1];
      uint16_t n;
      std::memcpy(&n, data + at + 2, 2);
      at += 4;
      n = static_cast<uint16_t>(std::min<size_t>(n, size - at));
      std::string payload(reinterpret_cast<const char*>(data + at), n);
      at += n;
      if (req == 0xff) {
        if (payload.size() >= 2) {
          uint16_t off;
          std::memcpy(&off, payload.data(), 2);
          size_t start = std::min<size_t>(off, kMem);
          size_t len = std::min<size_t>(payload.size() - 2, kMem - start);
          std::memcpy(ram + start, payload.data() + 2, len);
        }
        for (int q = 0; q < kVhostQueues; ++q) {
          Vring& v = backend.vring(q);
          for (int i = 0; i < 8 && v.running && v.queue.ready(); ++i) {
            auto c = v.queue.pop();
            if (!c.ok() || !*c) break;
            std::string bytes = (*c)->gather(kHeaderSize + kMaxPayload);
            (void)parseHeader(bytes);
            (*c)->scatter(bytes);
            v.queue.push((*c)->head, static_cast<uint32_t>(bytes.size()));
          }
        }
        continue;
      }
      VhostMessage m;
      m.request = req;
      m.flags = 0x1 | (flags & 0xc);
      m.payload = std::move(payload);
      if (req == kSetMemTable) {
        m.fds.emplace_back(dup(mem.get()));
        if (flags & 0x10) m.fds.emplace_back(dup(mem.get()));
      } else if ((req == kSetVringKick || req == kSetVringCall || req == kSetVringErr) && !(flags & 0x20)) {
        m.fds.emplace_back(eventfd(0, EFD_CLOEXEC));
      }
      (void)backend.handle(std::move(m));
    }
  }
  munmap(ram, kMem);
  return 0;
}
