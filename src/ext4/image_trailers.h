// image_trailers.h: what hcsshim appends to an ext4 layer image.
//
// dm-verity (hcsshim's ext4/dmverity, checked by `veritysetup verify`): a
// SHA-256 hash tree over the image's 4096-byte blocks, salt 32 zero bytes,
// each digest sha256(salt || block); a level's digests back to back,
// zero-padded to whole 4096-byte blocks; levels until one is a single
// block; written top level first, after a 4096-byte block holding the
// verity superblock (little-endian: "verity\0\0", version 1, hash type 1,
// uuid[16], "sha256" in 32 bytes, data and hash block size 4096, data
// blocks u64, salt size 32 at 80, salt at 88). Root digest =
// sha256(salt || the top block).
//
// Fixed VHD footer (512 bytes, big-endian, last in the file): "conectix",
// features 2, version 0x00010000, data offset all ones, timestamp 0,
// creator version 0x000a0000, original and current size = the bytes before
// the footer, geometry 0, disk type 2, checksum = ~(byte sum with the field
// zero), unique id[16], saved state 0.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "src/common/status.h"

namespace hcsshim::ext4 {

// appendDmVerity: the superblock and tree for the first dataBytes of fd
// (a multiple of 4096), written at dataBytes. Returns the root digest (hex)
// and sets *written to the bytes added. uuid: the superblock's.
StatusOr<std::string> appendDmVerity(int fd, uint64_t dataBytes, const std::array<uint8_t, 16>& uuid, uint64_t* written);

// vhdFooter: the footer for a disk of `size` bytes.
std::string vhdFooter(uint64_t size, const std::array<uint8_t, 16>& uniqueId);

}  // namespace hcsshim::ext4
