#include "src/common/guid.h"

#include <cstdio>

namespace hcsshim {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

StatusOr<Guid> Guid::parse(std::string_view text) {
  std::string_view s = text;
  if (s.size() == 38 && s.front() == '{' && s.back() == '}') s = s.substr(1, 36);
  if (s.size() != 36) {
    return InvalidArgumentError("invalid GUID \"" + std::string(text) + "\": want 36 characters, got " +
                                std::to_string(s.size()));
  }
  uint8_t bytes[16];
  size_t out = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') {
        return InvalidArgumentError("invalid GUID \"" + std::string(text) + "\": want '-' at offset " +
                                    std::to_string(i));
      }
      ++i;
      continue;
    }
    int hi = hexValue(s[i]);
    int lo = hexValue(s[i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgumentError("invalid GUID \"" + std::string(text) + "\": non-hex character at offset " +
                                  std::to_string(hi < 0 ? i : i + 1));
    }
    bytes[out++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  // Text is big-endian per field.
  Guid g;
  g.data1_ = uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
  g.data2_ = static_cast<uint16_t>(bytes[4] << 8 | bytes[5]);
  g.data3_ = static_cast<uint16_t>(bytes[6] << 8 | bytes[7]);
  for (int i = 0; i < 8; ++i) g.data4_[i] = bytes[8 + i];
  return g;
}

Guid Guid::fromRandom(uint64_t hi, uint64_t lo) {
  Guid g;
  g.data1_ = static_cast<uint32_t>(hi >> 32);
  g.data2_ = static_cast<uint16_t>(hi >> 16);
  g.data3_ = static_cast<uint16_t>((hi & 0x0FFF) | 0x4000);  // version 4
  for (int i = 0; i < 8; ++i) g.data4_[i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  g.data4_[0] = static_cast<uint8_t>((g.data4_[0] & 0x3F) | 0x80);  // RFC 4122 variant
  return g;
}

Guid Guid::fromBytesLE(const std::array<uint8_t, 16>& b) {
  Guid g;
  g.data1_ = uint32_t(b[3]) << 24 | uint32_t(b[2]) << 16 | uint32_t(b[1]) << 8 | b[0];
  g.data2_ = static_cast<uint16_t>(b[5] << 8 | b[4]);
  g.data3_ = static_cast<uint16_t>(b[7] << 8 | b[6]);
  for (int i = 0; i < 8; ++i) g.data4_[i] = b[8 + i];
  return g;
}

std::array<uint8_t, 16> Guid::toBytesLE() const {
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(data1_ >> (8 * i));
  b[4] = static_cast<uint8_t>(data2_);
  b[5] = static_cast<uint8_t>(data2_ >> 8);
  b[6] = static_cast<uint8_t>(data3_);
  b[7] = static_cast<uint8_t>(data3_ >> 8);
  for (int i = 0; i < 8; ++i) b[8 + i] = data4_[i];
  return b;
}

std::string Guid::toString() const {
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", data1_, data2_, data3_,
                data4_[0], data4_[1], data4_[2], data4_[3], data4_[4], data4_[5], data4_[6], data4_[7]);
  return std::string(buf, 36);
}

}  // namespace hcsshim
