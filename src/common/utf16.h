// utf16.h: UTF-8 <-> UTF-16LE for what crosses the Windows API (every HCS,
// HCN and storage document is a NUL-terminated UTF-16 string there).
//
//   HCS_ASSIGN_OR_RETURN(std::u16string w, toUtf16(doc));     // to a PCWSTR
//   HCS_ASSIGN_OR_RETURN(std::string doc, fromUtf16(result));  // from a PWSTR
//
// Both refuse what cannot cross exactly, with InvalidArgument naming the
// byte or code unit: malformed UTF-8 (overlong forms, surrogates encoded in
// UTF-8, code points past U+10FFFF, truncated sequences), unpaired
// surrogates in UTF-16, and embedded NULs (the API would cut the string
// there, as hcsshim refuses them too).
#pragma once

#include <string>
#include <string_view>

#include "src/common/status.h"

namespace hcsshim {

StatusOr<std::u16string> toUtf16(std::string_view utf8);
StatusOr<std::string> fromUtf16(std::u16string_view utf16);
// fromUtf16z: a NUL-terminated string (nullptr: "").
StatusOr<std::string> fromUtf16z(const char16_t* utf16);

}  // namespace hcsshim
