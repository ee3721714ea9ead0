// guid.h: Windows GUIDs, as HCS, HNS and the GCS bridge spell them.
//
// Text form is the canonical 36-character "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
// (lower case when formatted; either case and optional braces when parsed).
// Binary form follows the Windows struct layout: Data1 (u32), Data2 (u16) and
// Data3 (u16) little-endian, then Data4[8] as is.
//
//   auto g = Guid::parse("{4F0C8F1E-6C6B-4D46-9C06-8C1D5A3A2B10}");
//   g->toString() == "4f0c8f1e-6c6b-4d46-9c06-8c1d5a3a2b10"
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/common/status.h"

namespace hcsshim {

class Guid {
 public:
  Guid() = default;  // the nil GUID
  Guid(uint32_t data1, uint16_t data2, uint16_t data3, std::array<uint8_t, 8> data4)
      : data1_(data1), data2_(data2), data3_(data3), data4_(data4) {}

  // parse accepts 36 hex-and-dash characters, optionally inside braces.
  static StatusOr<Guid> parse(std::string_view text);

  // fromRandom builds a version 4 (random) GUID from 128 random bits.
  static Guid fromRandom(uint64_t hi, uint64_t lo);

  // fromBytesLE / toBytesLE: the 16-byte Windows in-memory layout.
  static Guid fromBytesLE(const std::array<uint8_t, 16>& bytes);
  std::array<uint8_t, 16> toBytesLE() const;

  std::string toString() const;
  bool isNil() const { return *this == Guid(); }

  uint32_t data1() const { return data1_; }
  uint16_t data2() const { return data2_; }
  uint16_t data3() const { return data3_; }
  const std::array<uint8_t, 8>& data4() const { return data4_; }

  friend bool operator==(const Guid&, const Guid&) = default;
  friend auto operator<=>(const Guid&, const Guid&) = default;

 private:
  uint32_t data1_ = 0;
  uint16_t data2_ = 0;
  uint16_t data3_ = 0;
  std::array<uint8_t, 8> data4_{};
};

}  // namespace hcsshim
