#include "src/shim/stdio.h"

#include "src/common/log.h"

namespace hcsshim::shim {

using runtime::Task;

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// unescape: URL percent-decoding ('+' is a space in a query).
StatusOr<std::string> unescape(std::string_view in, bool query) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      int hi = i + 2 < in.size() ? hexValue(in[i + 1]) : -1, lo = hi >= 0 ? hexValue(in[i + 2]) : -1;
      if (lo < 0) return InvalidArgumentError("bad percent escape in \"" + std::string(in) + "\"");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (query && in[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

StatusOr<std::vector<std::string>> parseBinaryUri(const std::string& uri) {
  std::string_view rest = std::string_view(uri).substr(std::string_view("binary://").size());
  if (rest.empty() || rest[0] != '/') {
    return InvalidArgumentError("stdio " + uri + ": a binary:// URI needs an absolute path (binary:///path)");
  }
  size_t q = rest.find('?');
  auto path = unescape(rest.substr(0, q), false);
  if (!path.ok()) return path.status();
  std::vector<std::string> argv{*path};
  if (q == std::string_view::npos) return argv;
  std::string_view query = rest.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = unescape(pair.substr(0, eq), true);
    if (!key.ok()) return key.status();
    argv.push_back(*key);
    if (eq != std::string_view::npos && eq + 1 < pair.size()) {
      auto value = unescape(pair.substr(eq + 1), true);
      if (!value.ok()) return value.status();
      argv.push_back(*value);
    }
  }
  return argv;
}

bool isBinaryUri(const std::string& uri) { return uri.rfind("binary://", 0) == 0; }

Task<void> relay(std::shared_ptr<runtime::Stream> from, std::shared_ptr<runtime::Stream> to, bool closeTo) {
  (void)co_await runtime::copyStream(*from, *to);
  (void)to->shutdownWrite();
  if (closeTo) to->close();
}

}  // namespace hcsshim::shim
