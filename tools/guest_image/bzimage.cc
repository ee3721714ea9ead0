#include "tools/guest_image/bzimage.h"

#include <cstdint>
#include <cstring>

namespace hcsshim::guest_image {

namespace {

template <typename T>
T at(std::string_view b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

}  // namespace

StatusOr<KernelPayload> bzImagePayload(std::string_view b) {
  if (b.size() < 0x250) return InvalidArgumentError("bzImage: " + std::to_string(b.size()) + " bytes, too short");
  if (b.substr(0x202, 4) != "HdrS") return InvalidArgumentError("bzImage: no \"HdrS\" at 0x202: not a bzImage");
  uint16_t version = at<uint16_t>(b, 0x206);
  if (version < 0x208) {
    return InvalidArgumentError("bzImage: boot protocol " + std::to_string(version >> 8) + "." +
                                std::to_string(version & 0xff) + " has no payload fields (need 2.08)");
  }
  uint64_t setup = at<uint8_t>(b, 0x1f1);
  if (setup == 0) setup = 4;
  uint64_t start = (setup + 1) * 512 + at<uint32_t>(b, 0x248);
  uint64_t length = at<uint32_t>(b, 0x24c);
  if (start > b.size() || b.size() - start < length || length < 8) {
    return InvalidArgumentError("bzImage: payload_offset/payload_length (" + std::to_string(start) + ", " +
                                std::to_string(length) + ") outside the " + std::to_string(b.size()) + "-byte file");
  }
  std::string_view p = b.substr(start, length);
  struct Magic {
    std::string_view bytes;
    const char* format;
  } magics[] = {{"\x1f\x8b", "gzip"},
                {std::string_view("\xfd" "7zXZ\0", 6), "xz"},
                {"\x02\x21\x4c\x18", "lz4"},
                {"\x28\xb5\x2f\xfd", "zstd"},
                {"BZh", "bzip2"},
                {std::string_view("\x5d\0\0", 3), "lzma"}};
  for (const auto& m : magics) {
    if (p.starts_with(m.bytes)) return KernelPayload{p, m.format};
  }
  return InvalidArgumentError("bzImage: payload at " + std::to_string(start) + " has an unknown compression");
}

}  // namespace hcsshim::guest_image
