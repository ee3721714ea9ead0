// The protobuf wire format (proto3, as libprotobuf-lite 3.21 reads and writes
// it) for the classes tools/protogen generates: the Windows build's protobuf,
// where Debian has no mingw-w64 libprotobuf (see src/protobuf/api.h).
//
// A message is a sequence of fields, each a tag varint (field_number << 3 |
// wire_type) then a payload:
//   0 varint     int32/int64/uint32/uint64/bool/enum (int32 and enum
//                negatives as 10-byte two's complement)
//   1 fixed64    8 bytes little endian
//   2 length     varint length, then bytes: string, bytes, messages, map
//                entries, packed repeated scalars
//   3/4 group    start/end (deprecated; kept only as unknown fields)
//   5 fixed32    4 bytes little endian
// Errors a Reader reports (every one makes ParseFromString return false,
// as libprotobuf does): a truncated field, a varint over 10 bytes, field
// number 0 or over 2^29-1, wire type 6 or 7, an end group with no start,
// nesting deeper than kMaxDepth (libprotobuf's default recursion limit),
// invalid UTF-8 in a proto3 string field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hcsshim::pbrt {

enum class WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLength = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

inline constexpr int kMaxDepth = 100;
inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

// Appends fields to a string.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void varint(uint64_t v);
  void tag(uint32_t field, WireType type) { varint((uint64_t{field} << 3) | static_cast<uint32_t>(type)); }
  void varintField(uint32_t field, uint64_t v) {
    tag(field, WireType::kVarint);
    varint(v);
  }
  void lengthField(uint32_t field, std::string_view bytes) {
    tag(field, WireType::kLength);
    varint(bytes.size());
    out_->append(bytes);
  }
  void raw(std::string_view bytes) { out_->append(bytes); }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

// Reads fields from a byte range; a failed read leaves the reader failed.
class Reader {
 public:
  Reader(std::string_view bytes, int depth) : p_(bytes.data()), end_(bytes.data() + bytes.size()), depth_(depth) {}

  bool atEnd() const { return p_ == end_; }
  int depth() const { return depth_; }

  // The next tag: false at a malformed tag (field 0, too large, wire type 6/7).
  bool tag(uint32_t* field, WireType* type);
  bool varint(uint64_t* v);
  bool fixed32(uint32_t* v);
  bool fixed64(uint64_t* v);
  bool length(std::string_view* bytes);
  // Skips the payload of a field whose tag was just read and appends the
  // whole field (tag included, re-encoded as wire.cc says) to `unknown` if
  // not null. Groups nest to kMaxDepth.
  bool skip(uint32_t field, WireType type, std::string* unknown);

  // Reads a length-delimited message body with `parse(Reader&)`, one level deeper.
  template <typename Fn>
  bool message(Fn&& parse) {
    std::string_view body;
    if (!length(&body) || depth_ + 1 > kMaxDepth) return false;
    Reader inner(body, depth_ + 1);
    return parse(inner);
  }

 private:
  bool skipGroup(uint32_t field, int depth, std::string* unknown);

  const char* p_;
  const char* end_;
  int depth_;
};

// Whether `s` is well-formed UTF-8 (no overlongs, surrogates or values
// above U+10FFFF), as libprotobuf checks proto3 string fields.
bool validUtf8(std::string_view s);

}  // namespace hcsshim::pbrt
