// sha256.h: SHA-256 (FIPS 180-4), for names that must match other tools'
// (containerd's shim socket names are hex SHA-256 digests).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace hcsshim {

std::array<uint8_t, 32> sha256(std::string_view data);
std::string sha256Hex(std::string_view data);

}  // namespace hcsshim
