// bzimage_payload: writes the compressed vmlinux inside a bzImage to OUT and
// prints its compression ("xz", "zstd", ...) so the caller can run the
// matching decompressor.
//
//   bzimage_payload BZIMAGE OUT
#include <cstdio>
#include <fstream>

#include "tools/guest_image/bzimage.h"
#include "tools/guest_image/io.h"

int main(int argc, char** argv) {
  using namespace hcsshim::guest_image;
  if (argc != 3) {
    std::fprintf(stderr, "usage: bzimage_payload BZIMAGE OUT\n");
    return 2;
  }
  auto image = readWhole(argv[1]);
  if (!image.ok()) {
    std::fprintf(stderr, "bzimage_payload: %s\n", image.status().message().c_str());
    return 1;
  }
  auto p = bzImagePayload(*image);
  if (!p.ok()) {
    std::fprintf(stderr, "bzimage_payload: %s: %s\n", argv[1], p.status().message().c_str());
    return 1;
  }
  std::ofstream o(argv[2], std::ios::binary | std::ios::trunc);
  o.write(p->bytes.data(), static_cast<std::streamsize>(p->bytes.size()));
  if (!o.good()) {
    std::fprintf(stderr, "bzimage_payload: %s: write failed\n", argv[2]);
    return 1;
  }
  std::printf("%s\n", p->format.c_str());
  return 0;
}
