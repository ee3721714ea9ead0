#include "src/protobuf/runtime/wire.h"

#include <cstring>

namespace hcsshim::pbrt {

void Writer::varint(uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out_->append(buf, n);
}

bool Reader::varint(uint64_t* v) {
  uint64_t result = 0;
  for (int i = 0; i < 10; ++i) {
    if (p_ == end_) return false;
    uint8_t b = static_cast<uint8_t>(*p_++);
    result |= uint64_t{b & 0x7fu} << (7 * i);
    if (b < 0x80) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool Reader::tag(uint32_t* field, WireType* type) {
  // A tag is a 32-bit varint: at most 5 bytes, bits past 32 dropped (libprotobuf).
  uint64_t t = 0;
  for (int i = 0;; ++i) {
    if (p_ == end_ || i == 5) return false;
    uint8_t b = static_cast<uint8_t>(*p_++);
    t |= uint64_t{b & 0x7fu} << (7 * i);
    if (b < 0x80) break;
  }
  t &= 0xffffffffu;
  uint32_t wt = static_cast<uint32_t>(t & 7);
  uint32_t number = static_cast<uint32_t>(t >> 3);
  if (number == 0 || wt > 5) return false;
  *field = number;
  *type = static_cast<WireType>(wt);
  return true;
}

bool Reader::fixed32(uint32_t* v) {
  if (end_ - p_ < 4) return false;
  uint8_t b[4];
  std::memcpy(b, p_, 4);
  p_ += 4;
  *v = uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  return true;
}

bool Reader::fixed64(uint64_t* v) {
  uint32_t lo, hi;
  if (end_ - p_ < 8 || !fixed32(&lo) || !fixed32(&hi)) return false;
  *v = uint64_t{hi} << 32 | lo;
  return true;
}

bool Reader::length(std::string_view* bytes) {
  uint64_t n;
  if (!varint(&n) || n > static_cast<uint64_t>(end_ - p_) || n > 0x7fffffffu) return false;
  *bytes = std::string_view(p_, n);
  p_ += n;
  return true;
}

bool Reader::skipGroup(uint32_t field, int depth, std::string* unknown) {
  if (depth > kMaxDepth) return false;
  for (;;) {
    uint32_t f;
    WireType t;
    if (!tag(&f, &t)) return false;
    if (t == WireType::kEndGroup) {
      if (f != field) return false;
      if (unknown != nullptr) Writer(unknown).tag(f, t);
      return true;
    }
    if (t == WireType::kStartGroup) {
      if (unknown != nullptr) Writer(unknown).tag(f, t);
      if (!skipGroup(f, depth + 1, unknown)) return false;
      continue;
    }
    if (!skip(f, t, unknown)) return false;
  }
}

// Unknown fields are kept re-encoded as libprotobuf-lite keeps them: tags and
// varints in their shortest form (a varint's bits past 64 dropped), other
// payloads as they came.
bool Reader::skip(uint32_t field, WireType type, std::string* unknown) {
  uint64_t u64;
  uint32_t u32;
  std::string_view sv;
  std::string* out = unknown;
  switch (type) {
    case WireType::kVarint:
      if (!varint(&u64)) return false;
      if (out != nullptr) Writer(out).varintField(field, u64);
      return true;
    case WireType::kFixed64: {
      const char* start = p_;
      if (!fixed64(&u64)) return false;
      if (out != nullptr) {
        Writer(out).tag(field, type);
        out->append(start, 8);
      }
      return true;
    }
    case WireType::kFixed32: {
      const char* start = p_;
      if (!fixed32(&u32)) return false;
      if (out != nullptr) {
        Writer(out).tag(field, type);
        out->append(start, 4);
      }
      return true;
    }
    case WireType::kLength:
      if (!length(&sv)) return false;
      if (out != nullptr) Writer(out).lengthField(field, sv);
      return true;
    case WireType::kStartGroup: {
      std::string group;
      if (!skipGroup(field, depth_ + 1, out != nullptr ? &group : nullptr)) return false;
      if (out != nullptr) {
        Writer(out).tag(field, type);
        out->append(group);
      }
      return true;
    }
    case WireType::kEndGroup:
      return false;  // an end with no start
  }
  return false;
}

bool validUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < n + 1) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

}  // namespace hcsshim::pbrt
