// Fuzz target: bytes as a layer tar through the tar reader and the ext4
// writer (tar2ext4 with overlay conversion, inline data and a VHD footer)
// into a memfd bounded to 64 MiB. Any input must end in an image or an
// error - never a crash, a hang or a write past the bound.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "src/ext4/tar2ext4.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int in = memfd_create("fuzz-tar", MFD_CLOEXEC);
  int out = memfd_create("fuzz-img", MFD_CLOEXEC);
  if (in < 0 || out < 0) std::abort();
  if (size && ::write(in, data, size) != static_cast<ssize_t>(size)) std::abort();
  ::lseek(in, 0, SEEK_SET);
  hcsshim::ext4::Tar2Ext4Options o{.convertWhiteout = (size & 1) != 0, .appendVhdFooter = (size & 2) != 0,
                                   .inlineData = (size & 4) != 0, .maximumDiskSize = 64 << 20};
  auto r = hcsshim::ext4::convert(in, out, o);
  off_t end = ::lseek(out, 0, SEEK_END);
  if (end > (64 << 20) + 512) std::abort();  // the bound held
  if (r.ok() && static_cast<uint64_t>(end) != r->totalBytes) std::abort();
  ::close(in);
  ::close(out);
  return 0;
}
