// One codec per protobuf field type, and the field-level reads and writes
// generated code is made of. A codec C has
//   T                 the C++ type held
//   kWire             its wire type
//   kPackable         whether a repeated field of it is packed (proto3 default)
//   isDefault(v)      proto3 implicit presence: a default value is not written
//   write(w, v)       the payload (no tag)
//   read(r, &v)       the payload; false if malformed
// The generated mergeFrom() calls read*() only when the tag's wire type is
// the codec's (or, for a packable repeated field, length): any other wire
// type is kept as an unknown field, as libprotobuf does.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "src/protobuf/runtime/containers.h"
#include "src/protobuf/runtime/message.h"
#include "src/protobuf/runtime/wire.h"

namespace hcsshim::pbrt::codec {

template <typename V, typename Derived>
struct VarintBase {
  using T = V;
  static constexpr WireType kWire = WireType::kVarint;
  static constexpr bool kPackable = true;
  static bool isDefault(T v) { return v == T{}; }
  static void write(Writer& w, T v) { w.varint(Derived::encode(v)); }
  static bool read(Reader& r, T* v) {
    uint64_t raw;
    if (!r.varint(&raw)) return false;
    *v = Derived::decode(raw);
    return true;
  }
};

struct Int32 : VarintBase<int32_t, Int32> {
  static uint64_t encode(int32_t v) { return static_cast<uint64_t>(static_cast<int64_t>(v)); }
  static int32_t decode(uint64_t raw) { return static_cast<int32_t>(static_cast<uint32_t>(raw)); }
};
struct Int64 : VarintBase<int64_t, Int64> {
  static uint64_t encode(int64_t v) { return static_cast<uint64_t>(v); }
  static int64_t decode(uint64_t raw) { return static_cast<int64_t>(raw); }
};
struct UInt32 : VarintBase<uint32_t, UInt32> {
  static uint64_t encode(uint32_t v) { return v; }
  static uint32_t decode(uint64_t raw) { return static_cast<uint32_t>(raw); }
};
struct UInt64 : VarintBase<uint64_t, UInt64> {
  static uint64_t encode(uint64_t v) { return v; }
  static uint64_t decode(uint64_t raw) { return raw; }
};
struct SInt32 : VarintBase<int32_t, SInt32> {
  static uint64_t encode(int32_t v) {
    return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
  }
  static int32_t decode(uint64_t raw) {
    auto u = static_cast<uint32_t>(raw);
    return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
  }
};
struct SInt64 : VarintBase<int64_t, SInt64> {
  static uint64_t encode(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
  static int64_t decode(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }
};
struct Bool : VarintBase<bool, Bool> {
  static uint64_t encode(bool v) { return v ? 1 : 0; }
  static bool decode(uint64_t raw) { return raw != 0; }
};
// proto3 enums are open: any int32 value is kept.
template <typename E>
struct Enum : VarintBase<E, Enum<E>> {
  static uint64_t encode(E v) { return Int32::encode(static_cast<int32_t>(v)); }
  static E decode(uint64_t raw) { return static_cast<E>(Int32::decode(raw)); }
};

template <typename V, typename Bits, WireType W>
struct FixedBase {
  using T = V;
  static constexpr WireType kWire = W;
  static constexpr bool kPackable = true;
  static bool isDefault(T v) {  // by bits: -0.0 is written, as libprotobuf does
    Bits b;
    std::memcpy(&b, &v, sizeof b);
    return b == 0;
  }
  static void write(Writer& w, T v) {
    Bits b;
    std::memcpy(&b, &v, sizeof b);
    char buf[sizeof b];
    for (size_t i = 0; i < sizeof b; ++i) buf[i] = static_cast<char>(b >> (8 * i));
    w.raw(std::string_view(buf, sizeof buf));
  }
  static bool read(Reader& r, T* v) {
    Bits b;
    bool ok;
    if constexpr (sizeof(Bits) == 4) {
      ok = r.fixed32(&b);
    } else {
      ok = r.fixed64(&b);
    }
    if (ok) std::memcpy(v, &b, sizeof b);
    return ok;
  }
};
using Fixed32 = FixedBase<uint32_t, uint32_t, WireType::kFixed32>;
using SFixed32 = FixedBase<int32_t, uint32_t, WireType::kFixed32>;
using Float = FixedBase<float, uint32_t, WireType::kFixed32>;
using Fixed64 = FixedBase<uint64_t, uint64_t, WireType::kFixed64>;
using SFixed64 = FixedBase<int64_t, uint64_t, WireType::kFixed64>;
using Double = FixedBase<double, uint64_t, WireType::kFixed64>;

template <bool kUtf8>
struct Text {
  using T = std::string;
  static constexpr WireType kWire = WireType::kLength;
  static constexpr bool kPackable = false;
  static bool isDefault(const T& v) { return v.empty(); }
  static void write(Writer& w, const T& v) {
    w.varint(v.size());
    w.raw(v);
  }
  static bool read(Reader& r, T* v) {
    std::string_view sv;
    if (!r.length(&sv) || (kUtf8 && !validUtf8(sv))) return false;
    v->assign(sv.data(), sv.size());
    return true;
  }
};
using String = Text<true>;
using Bytes = Text<false>;

template <typename M>
struct Message {
  using T = M;
  static constexpr WireType kWire = WireType::kLength;
  static constexpr bool kPackable = false;
  static void write(Writer& w, const M& m) {
    std::string body;
    m.AppendToString(&body);
    w.varint(body.size());
    w.raw(body);
  }
  static bool read(Reader& r, M* m) {
    return r.message([m](Reader& in) { return m->mergeFrom(in); });
  }
};

}  // namespace hcsshim::pbrt::codec

namespace hcsshim::pbrt {

template <typename C>
void writeSingular(Writer& w, uint32_t field, const typename C::T& v) {
  if (C::isDefault(v)) return;
  w.tag(field, C::kWire);
  C::write(w, v);
}

template <typename M>
void writeMessage(Writer& w, uint32_t field, const Owned<M>& m) {
  if (m.get() == nullptr) return;
  w.tag(field, WireType::kLength);
  codec::Message<M>::write(w, *m.get());
}

template <typename C>
void writeRepeated(Writer& w, uint32_t field, const RepeatedField<typename C::T>& v) {
  if (v.empty()) return;
  std::string packed;
  Writer pw(&packed);
  for (const auto& e : v) C::write(pw, e);
  w.lengthField(field, packed);
}

template <typename C>
void writeRepeated(Writer& w, uint32_t field, const RepeatedPtrField<typename C::T>& v) {
  for (const auto& e : v) {
    w.tag(field, C::kWire);
    C::write(w, e);
  }
}

// A map entry is a message: key = 1, value = 2, both always written.
template <typename KC, typename VC>
void writeMap(Writer& w, uint32_t field, const Map<typename KC::T, typename VC::T>& m) {
  for (const auto& [k, v] : m) {
    std::string entry;
    Writer ew(&entry);
    ew.tag(1, KC::kWire);
    KC::write(ew, k);
    ew.tag(2, VC::kWire);
    VC::write(ew, v);
    w.lengthField(field, entry);
  }
}

// Packed or not, as the tag's wire type says (the caller checked it is
// C::kWire or length).
template <typename C>
bool readRepeated(Reader& r, WireType type, RepeatedField<typename C::T>* v) {
  typename C::T e{};
  if (type == C::kWire) {
    if (!C::read(r, &e)) return false;
    v->Add(e);
    return true;
  }
  std::string_view packed;
  if (!r.length(&packed)) return false;
  Reader pr(packed, r.depth());
  while (!pr.atEnd()) {
    if (!C::read(pr, &e)) return false;
    v->Add(e);
  }
  return true;
}

template <typename C>
bool readRepeated(Reader& r, RepeatedPtrField<typename C::T>* v) {
  return C::read(r, v->Add());
}

template <typename KC, typename VC>
bool readMap(Reader& r, Map<typename KC::T, typename VC::T>* m) {
  typename KC::T key{};
  typename VC::T value{};
  bool ok = r.message([&](Reader& in) {
    while (!in.atEnd()) {
      uint32_t f;
      WireType t;
      if (!in.tag(&f, &t)) return false;
      if (f == 1 && t == KC::kWire) {
        if (!KC::read(in, &key)) return false;
      } else if (f == 2 && t == VC::kWire) {
        if (!VC::read(in, &value)) return false;
      } else if (t == WireType::kEndGroup || !in.skip(f, t, nullptr)) {
        return false;
      }
    }
    return true;
  });
  if (ok) (*m)[std::move(key)] = std::move(value);
  return ok;
}

// Keeps a field the message does not know (or knows with another wire type).
inline bool readUnknown(Reader& r, uint32_t field, WireType type, std::string* unknown) {
  return type != WireType::kEndGroup && r.skip(field, type, unknown);
}

}  // namespace hcsshim::pbrt
