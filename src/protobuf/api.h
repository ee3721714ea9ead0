// api.h: the names code outside generated files uses for protobuf's base
// types, whichever implementation the build links (tools/build_defs/protobuf.bzl):
// libprotobuf-lite's on Linux, protogen's (src/protobuf/runtime) on Windows
// and with --//src/protobuf:protogen=true.
//
//   void publish(const pb::MessageLite& event);   // any generated message
//   pb::RepeatedPtrField<containerd::types::Mount> mounts;
//
// Only what both provide with the same meaning is named here.
#pragma once

#if HCS_PROTOGEN
#include "src/protobuf/runtime/containers.h"
#include "src/protobuf/runtime/message.h"
#else
#include <google/protobuf/message_lite.h>
#include <google/protobuf/repeated_ptr_field.h>
#endif

namespace hcsshim::pb {

#if HCS_PROTOGEN
using MessageLite = ::hcsshim::pbrt::MessageLite;
template <typename T>
using RepeatedPtrField = ::hcsshim::pbrt::RepeatedPtrField<T>;
inline constexpr const char* kImplementation = "protogen";
#else
using MessageLite = ::google::protobuf::MessageLite;
template <typename T>
using RepeatedPtrField = ::google::protobuf::RepeatedPtrField<T>;
inline constexpr const char* kImplementation = "libprotobuf-lite";
#endif

}  // namespace hcsshim::pb
