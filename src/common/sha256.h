// sha256.h: SHA-256 (FIPS 180-4), for names that must match other tools'
// (containerd's shim socket names are hex SHA-256 digests).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace hcsshim {

std::array<uint8_t, 32> sha256(std::string_view data);

// Sha256: the same digest over data that arrives in pieces.
class Sha256 {
 public:
  void update(std::string_view data);
  std::array<uint8_t, 32> digest();

 private:
  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t buf_[64] = {};
  size_t used_ = 0;
  uint64_t length_ = 0;
};
std::string sha256Hex(std::string_view data);

}  // namespace hcsshim
