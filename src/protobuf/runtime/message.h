// The base of every class tools/protogen generates, with the part of
// libprotobuf's MessageLite API this project calls (Serialize*/Parse*,
// GetTypeName, Clear, ByteSizeLong). Parsing follows libprotobuf-lite 3.21:
// unknown fields (and known fields with an unexpected wire type) are kept and
// written back after the known ones; a malformed input makes Parse* return
// false (wire.h lists what is malformed). src/protobuf/protogen_compat_test
// checks both against libprotobuf.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "src/protobuf/runtime/wire.h"

namespace hcsshim::pbrt {

class MessageLite {
 public:
  virtual ~MessageLite() = default;

  // The message's full protobuf name, e.g. "containerd.task.v2.StateRequest".
  virtual std::string GetTypeName() const = 0;
  virtual void Clear() = 0;
  // Appends the message's fields (known ones by field number, then unknown).
  virtual void serializeTo(Writer& w) const = 0;
  // Merges the fields `r` holds, to its end; false on malformed input.
  virtual bool mergeFrom(Reader& r) = 0;

  bool SerializeToString(std::string* out) const {
    out->clear();
    return AppendToString(out);
  }
  bool AppendToString(std::string* out) const {
    Writer w(out);
    serializeTo(w);
    return true;
  }
  std::string SerializeAsString() const {
    std::string out;
    AppendToString(&out);
    return out;
  }
  bool ParseFromString(std::string_view data) {
    Clear();
    return MergeFromString(data);
  }
  bool ParseFromArray(const void* data, int size) {
    if (size < 0) return false;
    return ParseFromString(std::string_view(static_cast<const char*>(data), static_cast<size_t>(size)));
  }
  bool MergeFromString(std::string_view data) {
    Reader r(data, 0);
    return mergeFrom(r);
  }
  size_t ByteSizeLong() const { return SerializeAsString().size(); }
  bool IsInitialized() const { return true; }  // proto3: nothing is required
};

}  // namespace hcsshim::pbrt
