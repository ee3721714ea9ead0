// vsockexec: connects standard output and/or standard error to host vsock
// ports, then becomes the command (hcsshim's LCOW init line:
// `/bin/vsockexec -e 109 /bin/gcs ...` sends the agent's log to port 109).
//
//   vsockexec [-o PORT] [-e PORT] CMD [ARGS...]
//
// The same port for both shares one connection. A port nobody listens on
// is retried for about 5 s, then the command runs with the stream as it was.
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gcs/init/boot.h"

namespace {

bool parsePort(const char* s, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno || *end || end == s || v < 0 || v > 0xffffffffl) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long out = -1, err = -1;
  int i = 1;
  for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]; i += 2) {
    long* target = argv[i][1] == 'o' ? &out : argv[i][1] == 'e' ? &err : nullptr;
    if (!target || !parsePort(argv[i + 1], target)) {
      std::fprintf(stderr, "vsockexec: bad option %s %s\nusage: vsockexec [-o PORT] [-e PORT] CMD [ARGS...]\n",
                   argv[i], argv[i + 1]);
      return 2;
    }
  }
  if (i >= argc) {
    std::fprintf(stderr, "usage: vsockexec [-o PORT] [-e PORT] CMD [ARGS...]\n");
    return 2;
  }
  int outFd = out >= 0 ? hcsshim::guest_boot::dialHost(static_cast<unsigned>(out), 50, 0) : -1;
  int errFd = err >= 0 ? (err == out ? outFd : hcsshim::guest_boot::dialHost(static_cast<unsigned>(err), 50, 0)) : -1;
  if (out >= 0 && outFd < 0) std::fprintf(stderr, "vsockexec: stdout to vsock port %ld: %s\n", out, std::strerror(errno));
  if (err >= 0 && errFd < 0) std::fprintf(stderr, "vsockexec: stderr to vsock port %ld: %s\n", err, std::strerror(errno));
  if (outFd >= 0) dup2(outFd, STDOUT_FILENO);
  if (errFd >= 0) dup2(errFd, STDERR_FILENO);
  if (outFd > STDERR_FILENO) close(outFd);
  if (errFd > STDERR_FILENO && errFd != outFd) close(errFd);
  execv(argv[i], argv + i);
  std::fprintf(stderr, "vsockexec: exec %s: %s\n", argv[i], std::strerror(errno));
  return 127;
}
