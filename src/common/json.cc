#include "src/common/json.h"

namespace hcsshim {

std::string jsonTypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "number";
    case Json::value_t::binary: return "binary";
    case Json::value_t::discarded: return "discarded";
  }
  return "unknown";
}

StatusOr<Json> parseJson(std::string_view text, size_t maxDepth) {
  // Depth is checked with the SAX-style callback before values are built, so a
  // deeply nested hostile document is refused without deep recursion later.
  bool tooDeep = false;
  size_t depth = 0;
  auto cb = [&](int d, Json::parse_event_t event, Json&) {
    (void)d;
    if (event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) {
      if (++depth > maxDepth) tooDeep = true;
    } else if (event == Json::parse_event_t::object_end || event == Json::parse_event_t::array_end) {
      --depth;
    }
    return !tooDeep;
  };
  try {
    Json j = Json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    if (tooDeep) return InvalidArgumentError("invalid JSON: nesting deeper than " + std::to_string(maxDepth));
    return j;
  } catch (const Json::parse_error& e) {
    if (tooDeep) return InvalidArgumentError("invalid JSON: nesting deeper than " + std::to_string(maxDepth));
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, column 5: ".
    auto colon = what.find(": ");
    return InvalidArgumentError("invalid JSON at byte " + std::to_string(e.byte) + ": " +
                                (colon == std::string::npos ? what : what.substr(colon + 2)));
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace hcsshim
