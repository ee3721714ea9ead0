// A deterministic stand-in for libFuzzer's driver, so `bazel test` runs the
// fuzz target: every seed whole, then seeded mutations of them (bit flips,
// byte insertions and deletions, splices, size-field edits).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/bridge/fuzz/seeds.h"
#include "src/runtime/random.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace hcsshim::bridge {
namespace {

void feed(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

TEST(BridgeFuzzerTest, SeedsAndSeededMutations) {
  auto corpus = fuzzSeeds();
  ASSERT_FALSE(corpus.empty());
  for (const auto& s : corpus) feed(s);
  runtime::Random rnd(0xb41d6e);
  for (int i = 0; i < 30000; ++i) {
    std::string s = corpus[rnd.uniform(corpus.size())];
    int edits = 1 + static_cast<int>(rnd.uniform(8));
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rnd.uniform(s.size());
      switch (rnd.uniform(6)) {
        case 0: s[at] = static_cast<char>(s[at] ^ (1 << rnd.uniform(8))); break;
        case 1: s.insert(at, 1, static_cast<char>(rnd.uniform(256))); break;
        case 2: s.erase(at, 1 + rnd.uniform(16)); break;
        case 3: s.insert(at, corpus[rnd.uniform(corpus.size())].substr(0, rnd.uniform(64))); break;
        case 4:
          if (s.size() >= 8) {
            // Rewrite the size field with something near the truth or wild.
            uint32_t v = static_cast<uint32_t>(rnd.chance(0.5) ? s.size() + rnd.uniform(5) - 2 : rnd.next());
            for (int b = 0; b < 4; ++b) s[4 + b] = static_cast<char>(v >> (8 * b));
          }
          break;
        default: s.resize(at); break;
      }
    }
    feed(s);
  }
  SUCCEED() << "no crash, no trap over " << corpus.size() << " seeds and 30000 mutations";
}

}  // namespace
}  // namespace hcsshim::bridge
