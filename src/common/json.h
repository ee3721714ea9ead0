// json.h: JSON parsing with errors that say where and what (HCS, HNS and the
// GCS bridge all speak JSON; a bad document must be answered with the field or
// byte offset at fault, never with a crash).
//
//   HCS_ASSIGN_OR_RETURN(Json doc, parseJson(text));
//   HCS_ASSIGN_OR_RETURN(std::string owner, jsonField<std::string>(doc, "Owner"));
//   HCS_ASSIGN_OR_RETURN(auto mem, jsonOptionalField<int64_t>(doc, "SizeInMB"));
//
// Errors are InvalidArgument with messages such as
//   invalid JSON at byte 17: syntax error ... unexpected '}'
//   field "Owner": want string, got number
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "src/common/status.h"

namespace hcsshim {

using Json = nlohmann::json;

// parseJson parses text; the error names the byte offset. maxDepth bounds
// nesting so a hostile document cannot exhaust the stack.
StatusOr<Json> parseJson(std::string_view text, size_t maxDepth = 128);

// jsonText serialises compactly; invalid UTF-8 in strings becomes U+FFFD
// instead of throwing (documents can carry bytes from hostile input).
inline std::string jsonText(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// jsonTypeName returns "string", "number", "object", ... for messages.
std::string jsonTypeName(const Json& j);

namespace detail {
template <typename T>
bool jsonHoldsType(const Json& j) {
  if constexpr (std::is_same_v<T, bool>) {
    return j.is_boolean();
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
  } else if constexpr (std::is_integral_v<T>) {
    return j.is_number_integer();
  } else if constexpr (std::is_floating_point_v<T>) {
    return j.is_number();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return j.is_string();
  } else if constexpr (std::is_same_v<T, Json>) {
    return true;
  } else {
    static_assert(sizeof(T) == 0, "unsupported JSON field type");
  }
}
template <typename T>
std::string jsonWantName() {
  if constexpr (std::is_same_v<T, bool>) return "boolean";
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) return "unsigned integer";
  else if constexpr (std::is_integral_v<T>) return "integer";
  else if constexpr (std::is_floating_point_v<T>) return "number";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else return "value";
}
}  // namespace detail

// jsonOptionalField returns the field's value, nullopt if absent or null, or
// InvalidArgument naming the field if it has the wrong type or range.
template <typename T>
StatusOr<std::optional<T>> jsonOptionalField(const Json& obj, std::string_view name) {
  if (!obj.is_object()) return InvalidArgumentError("want a JSON object holding \"" + std::string(name) + "\", got " + jsonTypeName(obj));
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::optional<T>();
  if (!detail::jsonHoldsType<T>(*it)) {
    return InvalidArgumentError("field \"" + std::string(name) + "\": want " + detail::jsonWantName<T>() + ", got " +
                                jsonTypeName(*it));
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // Range check through the widest type of the same signedness.
    if constexpr (std::is_unsigned_v<T>) {
      uint64_t v = it->template get<uint64_t>();
      if (v > std::numeric_limits<T>::max()) {
        return InvalidArgumentError("field \"" + std::string(name) + "\": " + std::to_string(v) + " is out of range");
      }
      return std::optional<T>(static_cast<T>(v));
    } else {
      int64_t v = it->template get<int64_t>();
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
        return InvalidArgumentError("field \"" + std::string(name) + "\": " + std::to_string(v) + " is out of range");
      }
      return std::optional<T>(static_cast<T>(v));
    }
  } else {
    return std::optional<T>(it->template get<T>());
  }
}

// jsonField is jsonOptionalField for a required field (absent -> InvalidArgument).
template <typename T>
StatusOr<T> jsonField(const Json& obj, std::string_view name) {
  HCS_ASSIGN_OR_RETURN(std::optional<T> v, jsonOptionalField<T>(obj, name));
  if (!v) return InvalidArgumentError("field \"" + std::string(name) + "\" is required");
  return std::move(*v);
}

}  // namespace hcsshim
