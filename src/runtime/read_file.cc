#include "src/runtime/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

// (Windows: descriptors are not inherited unless asked, and text mode must
// not translate line ends.)
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_BINARY
#define O_BINARY 0
#endif

namespace hcsshim::runtime {

std::optional<std::string> readFile(const std::string& path, size_t maxBytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_BINARY);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  while (out.size() < maxBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (out.size() > maxBytes) out.resize(maxBytes);
  return out;
}

}  // namespace hcsshim::runtime
