#include "src/schema/codec.h"

namespace hcsshim::schema::detail {

std::string joinPath(const std::string& path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return path + "." + std::string(name);
}

std::string indexPath(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string keyPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

Status typeError(const std::string& path, std::string_view want, const Json& got) {
  return InvalidArgumentError((path.empty() ? std::string("document") : path) + ": want " + std::string(want) +
                              ", got " + jsonTypeName(got));
}

}  // namespace hcsshim::schema::detail
