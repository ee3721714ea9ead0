// win_child.exe: what the process tests start (test-only).
//   win_child args A B ...   prints each argument on a line of its own (as
//                            the C runtime split the command line)
//   win_child cat            copies stdin to stdout, then exits 0
//   win_child exit N         exits N, after "out" on stdout and "err" on stderr
//   win_child env NAME       prints NAME's value (or <unset>)
//   win_child sleep          sleeps forever
#include <fcntl.h>
#include <io.h>
#include <windows.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  // Bytes, not text: no \r before \n.
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
  if (!std::strcmp(argv[1], "args")) {
    for (int i = 2; i < argc; ++i) std::printf("[%s]\n", argv[i]);
    return 0;
  }
  if (!std::strcmp(argv[1], "cat")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) std::fwrite(buf, 1, n, stdout);
    return 0;
  }
  if (!std::strcmp(argv[1], "exit") && argc > 2) {
    std::fputs("out", stdout);
    std::fputs("err", stderr);
    return std::atoi(argv[2]);
  }
  if (!std::strcmp(argv[1], "env") && argc > 2) {
    const char* v = std::getenv(argv[2]);
    std::printf("%s", v ? v : "<unset>");
    return 0;
  }
  if (!std::strcmp(argv[1], "sleep")) {
    for (;;) Sleep(1000);
  }
  return 2;
}
