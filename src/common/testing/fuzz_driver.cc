// fuzz_driver: runs a libFuzzer target (LLVMFuzzerTestOneInput) under
// `bazel test`, built by the project's own compiler: every file of its
// corpus in the tree whole, then seeded mutations of them (bit flips, byte
// insertions and deletions, splices of two inputs, truncations, rewritten
// 32-bit integers - lengths, counts). Deterministic: the same corpus gives
// the same inputs. A crasher found by a libFuzzer campaign
// (tools/fuzz/run) becomes a regression test by being added to the corpus.
//
// Environment (set by hcs_fuzz_test, tools/build_defs/fuzz.bzl):
//   FUZZ_CORPUS      the corpus directory, relative to the runfiles root
//   FUZZ_ITERATIONS  how many mutated inputs after the corpus
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "src/runtime/random.h"
#include "src/runtime/read_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace hcsshim {
namespace {

namespace fs = std::filesystem;

void feed(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

std::vector<std::string> readCorpus(std::string* where) {
  const char* rel = std::getenv("FUZZ_CORPUS");
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  *where = std::string(srcdir ? srcdir : ".") + "/" + (ws ? ws : "hcsshim_cpp") + "/" + (rel ? rel : "");
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(*where, ec)) {
    if (e.is_regular_file(ec)) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(runtime::readFile(f.string(), 1 << 20).value_or(""));
  return out;
}

std::string mutate(runtime::Random& rnd, const std::vector<std::string>& corpus) {
  std::string s = corpus[rnd.uniform(corpus.size())];
  int edits = 1 + static_cast<int>(rnd.uniform(8));
  for (int e = 0; e < edits; ++e) {
    size_t at = s.empty() ? 0 : rnd.uniform(s.size());
    switch (rnd.uniform(7)) {
      case 0:
        if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << rnd.uniform(8)));
        break;
      case 1: s.insert(at, 1, static_cast<char>(rnd.uniform(256))); break;
      case 2:
        if (!s.empty()) s.erase(at, 1 + rnd.uniform(16));
        break;
      case 3: {  // splice in a piece of another input
        const std::string& other = corpus[rnd.uniform(corpus.size())];
        size_t from = other.empty() ? 0 : rnd.uniform(other.size());
        s.insert(at, other.substr(from, rnd.uniform(64)));
        break;
      }
      case 4:
        if (s.size() >= 4) {  // a 32-bit integer near the input's size, or wild
          size_t p = rnd.uniform(s.size() - 3);
          uint32_t v = static_cast<uint32_t>(rnd.chance(0.5) ? s.size() + rnd.uniform(9) - 4 : rnd.next());
          bool big = rnd.chance(0.5);
          for (int b = 0; b < 4; ++b) s[p + b] = static_cast<char>(v >> (8 * (big ? 3 - b : b)));
        }
        break;
      case 5: s.resize(at); break;
      default: {  // a repeated chunk (deep nesting, long runs)
        size_t n = s.empty() ? 0 : 1 + rnd.uniform(std::min<size_t>(16, s.size() - at));
        std::string chunk = s.substr(at, n);
        for (uint64_t r = rnd.uniform(64); r > 0; --r) s.insert(at, chunk);
        break;
      }
    }
  }
  return s;
}

TEST(FuzzTarget, CorpusAndSeededMutationsNeitherCrashNorTrap) {
  std::string where;
  std::vector<std::string> corpus = readCorpus(&where);
  ASSERT_FALSE(corpus.empty()) << "no corpus at " << where;
  for (const auto& s : corpus) feed(s);
  uint64_t iterations = 20000;
  if (const char* n = std::getenv("FUZZ_ITERATIONS")) iterations = std::strtoull(n, nullptr, 10);
  runtime::Random rnd(0xf022);
  for (uint64_t i = 0; i < iterations; ++i) feed(mutate(rnd, corpus));
  SUCCEED() << corpus.size() << " corpus inputs and " << iterations << " mutations";
}

}  // namespace
}  // namespace hcsshim
