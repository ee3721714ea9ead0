// The protobuf names code shared by both implementations spells: the
// generated classes (and these) are libprotobuf's normally, and
// tools/protogen's over src/protobuf/runtime where HCS_PROTOGEN is defined
// (the Windows build; see tools/build_defs/protobuf.bzl).
#pragma once

#ifdef HCS_PROTOGEN
#include "src/protobuf/runtime/containers.h"
#include "src/protobuf/runtime/message.h"

namespace hcs::proto {
using MessageLite = ::hcs::pb::MessageLite;
template <typename T>
using RepeatedPtrField = ::hcs::pb::RepeatedPtrField<T>;
}  // namespace hcs::proto
#else
#include <google/protobuf/message_lite.h>
#include <google/protobuf/repeated_ptr_field.h>

namespace hcs::proto {
using MessageLite = ::google::protobuf::MessageLite;
template <typename T>
using RepeatedPtrField = ::google::protobuf::RepeatedPtrField<T>;
}  // namespace hcs::proto
#endif
