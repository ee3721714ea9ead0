#include "src/ext4/image_trailers.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "src/common/sha256.h"

namespace hcsshim::ext4 {

namespace {

constexpr size_t kBlock = 4096;

Status preadAll(int fd, char* buf, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status(Code::kUnavailable, std::string("reading the image back: ") + (r == 0 ? "short" : std::strerror(errno)));
    buf += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return OkStatus();
}

Status pwriteAll(int fd, const std::string& data, uint64_t off) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t r = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status(Code::kUnavailable, std::string("writing the image: ") + std::strerror(errno));
    done += static_cast<size_t>(r);
  }
  return OkStatus();
}

std::string saltedDigest(const char* block) {
  Sha256 h;
  static const char kSalt[32] = {};
  h.update(std::string_view(kSalt, 32));
  h.update(std::string_view(block, kBlock));
  auto d = h.digest();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

template <typename T>
void putLe(std::string& s, size_t off, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) s[off + i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
}
template <typename T>
void putBe(std::string& s, size_t off, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) s[off + i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * (sizeof(T) - 1 - i))) & 0xff);
}

}  // namespace

StatusOr<std::string> appendDmVerity(int fd, uint64_t dataBytes, const std::array<uint8_t, 16>& uuid, uint64_t* written) {
  if (dataBytes == 0 || dataBytes % kBlock) return InvalidArgumentError("dm-verity needs whole 4096-byte blocks");
  // Level 0 from the data, each next level from the one below.
  std::vector<std::string> levels;
  std::string level;
  std::vector<char> buf(1 << 20);
  for (uint64_t off = 0; off < dataBytes; off += buf.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), dataBytes - off));
    HCS_RETURN_IF_ERROR(preadAll(fd, buf.data(), n, off));
    for (size_t b = 0; b < n; b += kBlock) level += saltedDigest(buf.data() + b);
  }
  for (;;) {
    level.resize((level.size() + kBlock - 1) / kBlock * kBlock, '\0');
    levels.push_back(level);
    if (level.size() == kBlock) break;
    std::string up;
    for (size_t b = 0; b < level.size(); b += kBlock) up += saltedDigest(level.data() + b);
    level = std::move(up);
  }
  std::string sb(kBlock, '\0');
  std::memcpy(sb.data(), "verity", 6);
  putLe<uint32_t>(sb, 8, 1);
  putLe<uint32_t>(sb, 12, 1);
  std::memcpy(sb.data() + 16, uuid.data(), 16);
  std::memcpy(sb.data() + 32, "sha256", 6);
  putLe<uint32_t>(sb, 64, kBlock);
  putLe<uint32_t>(sb, 68, kBlock);
  putLe<uint64_t>(sb, 72, dataBytes / kBlock);
  putLe<uint16_t>(sb, 80, 32);
  uint64_t at = dataBytes;
  HCS_RETURN_IF_ERROR(pwriteAll(fd, sb, at));
  at += sb.size();
  for (auto it = levels.rbegin(); it != levels.rend(); ++it) {
    HCS_RETURN_IF_ERROR(pwriteAll(fd, *it, at));
    at += it->size();
  }
  *written = at - dataBytes;
  std::string root = saltedDigest(levels.back().data());
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : root) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

std::string vhdFooter(uint64_t size, const std::array<uint8_t, 16>& uniqueId) {
  std::string f(512, '\0');
  std::memcpy(f.data(), "conectix", 8);
  putBe<uint32_t>(f, 8, 2);
  putBe<uint32_t>(f, 12, 0x00010000);
  putBe<uint64_t>(f, 16, UINT64_MAX);
  putBe<uint32_t>(f, 32, 0x000a0000);
  putBe<uint64_t>(f, 40, size);
  putBe<uint64_t>(f, 48, size);
  putBe<uint32_t>(f, 60, 2);
  std::memcpy(f.data() + 68, uniqueId.data(), 16);
  uint32_t sum = 0;
  for (unsigned char c : f) sum += c;
  putBe<uint32_t>(f, 64, ~sum);
  return f;
}

}  // namespace hcsshim::ext4
