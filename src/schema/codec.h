// codec.h: JSON <-> C++ for schema documents, with errors that name the field.
//
// A schema type lists its fields once, by their exact wire names:
//
//   struct LinuxKernelDirect {
//     std::optional<std::string> kernelFilePath;
//     Json extra;  // unknown fields: kept, so a round trip loses nothing
//     template <typename S, typename V> static void fields(S& s, V& v) {
//       v("KernelFilePath", s.kernelFilePath);
//     }
//   };
//
//   HCS_ASSIGN_OR_RETURN(auto doc, schema::decode<ComputeSystem>(text));
//   std::string out = schema::encode(doc).dump();
//
// Supported member types: bool, integers, double, std::string, Json (any
// value), std::optional<T>, std::vector<T>, std::map<std::string, T> and
// nested schema types. Absent optionals and empty vectors/maps are omitted
// when encoding (Go's omitempty, which is what HCS and hcsshim emit). A wrong
// type is InvalidArgument naming the path:
//   "VirtualMachine.ComputeTopology.Memory.SizeInMB: want unsigned integer, got string"
#pragma once

#include <concepts>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "src/common/json.h"
#include "src/common/status.h"

namespace hcsshim::schema {

namespace detail {

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
struct IsMap : std::false_type {};
template <typename T>
struct IsMap<std::map<std::string, T>> : std::true_type {};

struct NullVisitor {
  template <typename F>
  void operator()(std::string_view, F&) {}
};

template <typename T>
concept SchemaStruct = requires(T& t, NullVisitor& v) { T::fields(t, v); };

template <typename T>
concept HasExtra = requires(T& t) {
  { t.extra } -> std::convertible_to<Json>;
};

std::string joinPath(const std::string& path, std::string_view name);
std::string indexPath(const std::string& path, size_t i);
std::string keyPath(const std::string& path, const std::string& key);
Status typeError(const std::string& path, std::string_view want, const Json& got);

template <typename T>
Status decodeValue(const Json& j, T& out, const std::string& path);

template <typename T>
Json encodeValue(const T& v);

template <typename T>
bool isEmpty(const T& v) {
  if constexpr (IsOptional<T>::value) {
    return !v.has_value();
  } else if constexpr (IsVector<T>::value || IsMap<T>::value) {
    return v.empty();
  } else if constexpr (std::is_same_v<T, Json>) {
    return v.is_null();
  } else {
    return false;
  }
}

struct Decoder {
  const Json& obj;
  const std::string& path;
  Status status;
  std::vector<std::string_view> seen;
  template <typename F>
  void operator()(std::string_view name, F& field) {
    seen.push_back(name);
    if (!status.ok()) return;
    auto it = obj.find(name);
    if (it == obj.end()) return;
    if constexpr (IsOptional<F>::value) {
      if (it->is_null()) return;
      typename F::value_type v{};
      status = decodeValue(*it, v, joinPath(path, name));
      if (status.ok()) field = std::move(v);
    } else {
      if (it->is_null()) return;
      status = decodeValue(*it, field, joinPath(path, name));
    }
  }
};

struct Encoder {
  Json& obj;
  template <typename F>
  void operator()(std::string_view name, const F& field) {
    if (isEmpty(field)) return;
    if constexpr (IsOptional<F>::value) {
      obj[std::string(name)] = encodeValue(*field);
    } else {
      obj[std::string(name)] = encodeValue(field);
    }
  }
};

template <typename T>
Status decodeValue(const Json& j, T& out, const std::string& path) {
  if constexpr (std::is_same_v<T, Json>) {
    out = j;
    return OkStatus();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) return typeError(path, "boolean", j);
    out = j.get<bool>();
    return OkStatus();
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_unsigned_v<T>) {
      if (!(j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0))) {
        return typeError(path, "unsigned integer", j);
      }
      uint64_t v = j.get<uint64_t>();
      if (v > std::numeric_limits<T>::max()) {
        return InvalidArgumentError(path + ": " + std::to_string(v) + " is out of range");
      }
      out = static_cast<T>(v);
    } else {
      if (!j.is_number_integer()) return typeError(path, "integer", j);
      if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return InvalidArgumentError(path + ": " + std::to_string(j.get<uint64_t>()) + " is out of range");
      }
      int64_t v = j.get<int64_t>();
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
        return InvalidArgumentError(path + ": " + std::to_string(v) + " is out of range");
      }
      out = static_cast<T>(v);
    }
    return OkStatus();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) return typeError(path, "number", j);
    out = j.get<T>();
    return OkStatus();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) return typeError(path, "string", j);
    out = j.get<std::string>();
    return OkStatus();
  } else if constexpr (IsVector<T>::value) {
    if (!j.is_array()) return typeError(path, "array", j);
    out.clear();
    out.reserve(j.size());
    for (size_t i = 0; i < j.size(); ++i) {
      typename T::value_type v{};
      HCS_RETURN_IF_ERROR(decodeValue(j[i], v, indexPath(path, i)));
      out.push_back(std::move(v));
    }
    return OkStatus();
  } else if constexpr (IsMap<T>::value) {
    if (!j.is_object()) return typeError(path, "object", j);
    out.clear();
    for (auto it = j.begin(); it != j.end(); ++it) {
      typename T::mapped_type v{};
      HCS_RETURN_IF_ERROR(decodeValue(it.value(), v, keyPath(path, it.key())));
      out.emplace(it.key(), std::move(v));
    }
    return OkStatus();
  } else if constexpr (SchemaStruct<T>) {
    if (!j.is_object()) return typeError(path, "object", j);
    Decoder d{j, path, OkStatus(), {}};
    T::fields(out, d);
    HCS_RETURN_IF_ERROR(d.status);
    if constexpr (HasExtra<T>) {
      out.extra = Json();
      for (auto it = j.begin(); it != j.end(); ++it) {
        bool known = false;
        for (auto n : d.seen) known = known || n == it.key();
        if (!known) out.extra[it.key()] = it.value();
      }
    }
    return OkStatus();
  } else {
    static_assert(sizeof(T) == 0, "type not supported by the schema codec");
  }
}

template <typename T>
Json encodeValue(const T& v) {
  if constexpr (std::is_same_v<T, Json> || std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) {
    return Json(v);
  } else if constexpr (IsVector<T>::value) {
    Json arr = Json::array();
    for (const auto& e : v) arr.push_back(encodeValue(e));
    return arr;
  } else if constexpr (IsMap<T>::value) {
    Json obj = Json::object();
    for (const auto& [k, e] : v) obj[k] = encodeValue(e);
    return obj;
  } else if constexpr (SchemaStruct<T>) {
    Json obj = Json::object();
    Encoder e{obj};
    T::fields(v, e);
    if constexpr (HasExtra<T>) {
      if (v.extra.is_object()) {
        for (auto it = v.extra.begin(); it != v.extra.end(); ++it) {
          if (!obj.contains(it.key())) obj[it.key()] = it.value();
        }
      }
    }
    return obj;
  } else {
    static_assert(sizeof(T) == 0, "type not supported by the schema codec");
  }
}

}  // namespace detail

// decode parses a JSON value into T; `path` prefixes error locations. Only
// a Json binds here (a string must not silently become a JSON string value).
template <typename T, typename J>
  requires std::same_as<J, Json>
StatusOr<T> decode(const J& j, const std::string& path = "") {
  T out{};
  HCS_RETURN_IF_ERROR(detail::decodeValue(j, out, path));
  return out;
}

// decode parses JSON text into T (syntax errors name the byte offset, and
// are prefixed with `path` when given).
template <typename T>
StatusOr<T> decode(std::string_view text, const std::string& path = "") {
  auto j = parseJson(text);
  if (!j.ok()) {
    if (path.empty()) return j.status();
    return Status(j.status().code(), path + ": " + j.status().message());
  }
  return decode<T>(*j, path);
}

template <typename T>
Json encode(const T& v) {
  return detail::encodeValue(v);
}

}  // namespace hcsshim::schema
