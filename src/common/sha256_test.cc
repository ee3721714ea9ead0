#include "src/common/sha256.h"

#include <gtest/gtest.h>

namespace hcsshim {
namespace {

// FIPS 180-4 / NIST test vectors, and the two-block padding boundary.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace hcsshim

namespace hcsshim {
namespace {

// Pieces of every size give the one-shot digest (block and padding edges).
TEST(Sha256Test, IncrementalMatchesOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  for (size_t piece : {1u, 3u, 55u, 56u, 63u, 64u, 65u, 127u, 999u}) {
    Sha256 h;
    for (size_t at = 0; at < data.size(); at += piece) h.update(std::string_view(data).substr(at, piece));
    EXPECT_EQ(h.digest(), sha256(data)) << "pieces of " << piece;
  }
}

}  // namespace
}  // namespace hcsshim
