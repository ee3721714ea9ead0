// The tar2ext4 fuzz target under `bazel test`: seed archives with every
// member kind and extension, then seeded mutations of them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/runtime/random.h"
#include "src/tar/testing/tar_builder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace hcsshim::ext4 {
namespace {

using tar::testing::member;

std::string seed() {
  std::string a = member({.name = "./", .type = '5', .mode = 0755});
  a += member({.name = "dir/", .type = '5', .mode = 0700, .uid = 7});
  a += member({.name = "dir/file", .data = std::string(5000, 'f')});
  a += member({.name = "dir/small", .data = "tiny"});
  a += member({.name = "dir/link", .type = '2', .link = std::string(80, 'l')});
  a += member({.name = "dir/hard", .type = '1', .link = "dir/file"});
  a += member({.name = "dev/null", .type = '3', .devMajor = 1, .devMinor = 3});
  a += member({.name = "pipe", .type = '6'});
  a += member({.name = "dir/.wh.gone", .data = ""});
  a += member({.name = "dir/.wh..wh..opq", .data = ""});
  a += member({.name = std::string(120, 'n') + "/x", .data = "long", .gnuLongName = true});
  a += member({.name = "p", .data = "pax", .pax = {{"path", "paxed"}, {"SCHILY.xattr.user.a", std::string(200, 'v')}, {"mtime", "12.5"}}});
  return a + tar::testing::end();
}

void feed(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

TEST(Tar2Ext4FuzzTest, SeedsAndSeededMutations) {
  std::vector<std::string> corpus = {seed(), std::string(1024, '\0'), ""};
  for (const auto& s : corpus) feed(s);
  runtime::Random rnd(0x7a2e);
  for (int i = 0; i < 3000; ++i) {
    std::string s = corpus[rnd.uniform(2)];
    int edits = 1 + static_cast<int>(rnd.uniform(6));
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rnd.uniform(s.size());
      switch (rnd.uniform(5)) {
        case 0: s[at] = static_cast<char>(s[at] ^ (1 << rnd.uniform(8))); break;
        case 1: s[at] = static_cast<char>('0' + rnd.uniform(10)); break;  // digits: sizes and modes stay numbers
        case 2: s.erase(at, 1 + rnd.uniform(600)); break;
        case 3: s.insert(at, std::string(1 + rnd.uniform(512), static_cast<char>(rnd.uniform(256)))); break;
        default: s.resize(at); break;
      }
    }
    feed(s);
  }
  SUCCEED() << "no crash over 3000 mutated archives";
}

}  // namespace
}  // namespace hcsshim::ext4
