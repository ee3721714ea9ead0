#include "src/runtime/transport.h"

#include <vector>

#include <cstdio>
#include <cstdlib>

#include "src/runtime/event_loop.h"

namespace hcsshim::runtime {
namespace {
constexpr std::string_view kCleanEof = "EOF before first byte";
}

Task<StatusOr<std::string>> readExactly(Stream& stream, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    HCS_CO_ASSIGN_OR_RETURN(size_t r, co_await stream.read(std::span<char>(out.data() + got, n - got)));
    if (r == 0) {
      if (got == 0) co_return UnavailableError(std::string(kCleanEof));
      co_return UnavailableError("unexpected EOF after " + std::to_string(got) + " of " + std::to_string(n) +
                                 " bytes");
    }
    got += r;
  }
  co_return out;
}

Task<StatusOr<std::string>> readToEnd(Stream& stream, size_t limit) {
  std::string out;
  char buf[16384];
  for (;;) {
    HCS_CO_ASSIGN_OR_RETURN(size_t n, co_await stream.read(buf));
    if (n == 0) co_return out;
    if (out.size() + n > limit) {
      co_return ResourceExhaustedError("stream " + stream.describe() + " sent more than " + std::to_string(limit) +
                                       " bytes");
    }
    out.append(buf, n);
  }
}

namespace detail {
void blockOnStalled() {
  std::fprintf(stderr, "blockOn: the event loop stopped or ran out of work before the task finished\n");
  std::abort();
}
}  // namespace detail

Task<uint64_t> copyStream(Stream& from, Stream& to, size_t bufferSize) {
  // Not zeroed: a relay that carries a few bytes touches only a page of it.
  std::unique_ptr<char[]> buf(new char[bufferSize]);
  uint64_t total = 0;
  for (;;) {
    auto n = co_await from.read(std::span<char>(buf.get(), bufferSize));
    if (!n.ok() || *n == 0) break;
    if (!(co_await to.write(std::string_view(buf.get(), *n))).ok()) break;
    total += *n;
  }
  co_return total;
}

bool isCleanEof(const Status& s) { return s.code() == Code::kUnavailable && s.message() == kCleanEof; }

StatusOr<std::string> unixSocketPath(std::string_view address) {
  std::string_view p = address;
  if (p.starts_with("unix://")) p.remove_prefix(7);
  if (p.empty() || p.front() != '/') {
    return InvalidArgumentError("unix socket address \"" + std::string(address) + "\" is not an absolute path");
  }
  return std::string(p);
}

}  // namespace hcsshim::runtime
