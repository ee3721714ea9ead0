// bzimage.h: the compressed kernel inside an x86 bzImage, so the image can
// ship the uncompressed ELF vmlinux that QEMU boots through its PVH entry
// (about 2.3 s to init under TCG here, against about 6 s for the bzImage,
// which decompresses itself in emulated code).
//
// Boot protocol header (Documentation/arch/x86/boot.rst): setup_sects u8 at
// 0x1f1 (0 means 4), "HdrS" at 0x202, version u16 at 0x206 (payload fields
// from 2.08), payload_offset u32 at 0x248 and payload_length u32 at 0x24c,
// both relative to the protected-mode code at (setup_sects + 1) * 512.
#pragma once

#include <string>
#include <string_view>

#include "src/common/status.h"

namespace hcsshim::guest_image {

struct KernelPayload {
  std::string_view bytes;  // the compressed vmlinux
  std::string format;      // "gzip", "xz", "lz4", "zstd", "bzip2", "lzma"
};

// bzImagePayload: InvalidArgument (naming the field) when `image` is not a
// bzImage of protocol 2.08+ or the payload lies outside it or has an
// unknown compression.
StatusOr<KernelPayload> bzImagePayload(std::string_view image);

}  // namespace hcsshim::guest_image
