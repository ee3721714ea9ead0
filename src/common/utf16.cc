#include "src/common/utf16.h"

#include <cstdint>

namespace hcsshim {

namespace {

Status badUtf8(size_t at, const char* why) {
  return InvalidArgumentError("not UTF-8 at byte " + std::to_string(at) + ": " + why);
}

Status badUtf16(size_t at, const char* why) {
  return InvalidArgumentError("not UTF-16 at code unit " + std::to_string(at) + ": " + why);
}

}  // namespace

StatusOr<std::u16string> toUtf16(std::string_view in) {
  std::u16string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    auto b = static_cast<unsigned char>(in[i]);
    uint32_t cp;
    size_t n;
    if (b < 0x80) {
      cp = b;
      n = 1;
    } else if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F;
      n = 2;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F;
      n = 3;
    } else if ((b & 0xF8) == 0xF0) {
      cp = b & 0x07;
      n = 4;
    } else {
      return badUtf8(i, "not a leading byte");
    }
    if (i + n > in.size()) return badUtf8(i, "truncated sequence");
    for (size_t k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(in[i + k]);
      if ((c & 0xC0) != 0x80) return badUtf8(i + k, "not a continuation byte");
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n]) return badUtf8(i, "overlong form");
    if (cp >= 0xD800 && cp <= 0xDFFF) return badUtf8(i, "a surrogate code point");
    if (cp > 0x10FFFF) return badUtf8(i, "past U+10FFFF");
    if (cp == 0) return badUtf8(i, "an embedded NUL");
    if (cp < 0x10000) {
      out.push_back(static_cast<char16_t>(cp));
    } else {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    }
    i += n;
  }
  return out;
}

StatusOr<std::string> fromUtf16(std::u16string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    uint32_t cp = in[i];
    if (cp == 0) return badUtf16(i, "an embedded NUL");
    if (cp >= 0xDC00 && cp <= 0xDFFF) return badUtf16(i, "a trailing surrogate without a leading one");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (i + 1 >= in.size() || in[i + 1] < 0xDC00 || in[i + 1] > 0xDFFF) {
        return badUtf16(i, "a leading surrogate without a trailing one");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (in[i + 1] - 0xDC00);
      ++i;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

StatusOr<std::string> fromUtf16z(const char16_t* s) {
  if (!s) return std::string();
  return fromUtf16(std::u16string_view(s));
}

}  // namespace hcsshim
