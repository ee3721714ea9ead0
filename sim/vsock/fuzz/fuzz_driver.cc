// The vhost-user fuzz target under `bazel test`: seeds that bring the
// device up over a 64 KiB memory table, then seeded mutations of them.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "sim/vsock/vhost_user.h"
#include "src/runtime/random.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace hcsshim::vsock {
namespace {

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void record(std::string& s, uint8_t req, const std::string& payload, uint8_t flags = 0) {
  s.push_back(static_cast<char>(req));
  s.push_back(static_cast<char>(flags));
  put<uint16_t>(s, static_cast<uint16_t>(payload.size()));
  s += payload;
}

std::string bringUpSeed() {
  std::string s;
  std::string u;
  put<uint64_t>(u, kFeatureVersion1 | kFeatureProtocolFeatures);
  record(s, kSetFeatures, u);
  std::string table;
  put<uint32_t>(table, 1);
  put<uint32_t>(table, 0);
  put<uint64_t>(table, 0);
  put<uint64_t>(table, 64 * 1024);
  put<uint64_t>(table, 0x10000000);
  put<uint64_t>(table, 0);
  record(s, kSetMemTable, table);
  for (uint32_t q = 0; q < 2; ++q) {
    std::string st;
    put<uint32_t>(st, q);
    put<uint32_t>(st, 16);
    record(s, kSetVringNum, st);
    std::string addr;
    put<uint32_t>(addr, q);
    put<uint32_t>(addr, 0);
    put<uint64_t>(addr, 0x10000000 + q * 0x1000);
    put<uint64_t>(addr, 0x10000000 + q * 0x1000 + 0x400);
    put<uint64_t>(addr, 0x10000000 + q * 0x1000 + 0x100);
    put<uint64_t>(addr, 0);
    record(s, kSetVringAddr, addr);
    std::string idx;
    put<uint64_t>(idx, q);
    record(s, kSetVringKick, idx);
    std::string en;
    put<uint32_t>(en, q);
    put<uint32_t>(en, 1);
    record(s, kSetVringEnable, en);
  }
  // The guest: tx descriptor 0 -> 60 bytes at 0x8000, avail idx 1 with head 0.
  std::string desc;
  put<uint16_t>(desc, 0x1000);
  put<uint64_t>(desc, 0x8000);
  put<uint32_t>(desc, 60);
  put<uint16_t>(desc, 0);
  put<uint16_t>(desc, 0);
  record(s, 0xff, desc);
  std::string avail;
  put<uint16_t>(avail, 0x1100);
  put<uint16_t>(avail, 0);
  put<uint16_t>(avail, 1);
  put<uint16_t>(avail, 0);
  record(s, 0xff, avail);
  record(s, kGetVringBase, std::string(8, '\0'));
  std::string cfg(12, '\0');
  cfg[4] = 8;
  record(s, kGetConfig, cfg + std::string(8, '\0'));
  return s;
}

void feed(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

TEST(VhostFuzzTest, SeedsAndSeededMutations) {
  std::vector<std::string> corpus = {bringUpSeed(), std::string(4, '\0')};
  for (const auto& s : corpus) feed(s);
  runtime::Random rnd(0x7605c);
  for (int i = 0; i < 20000; ++i) {
    std::string s = corpus[rnd.uniform(corpus.size())];
    int edits = 1 + static_cast<int>(rnd.uniform(8));
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rnd.uniform(s.size());
      switch (rnd.uniform(5)) {
        case 0: s[at] = static_cast<char>(s[at] ^ (1 << rnd.uniform(8))); break;
        case 1: s.insert(at, 1, static_cast<char>(rnd.uniform(256))); break;
        case 2: s.erase(at, 1 + rnd.uniform(16)); break;
        case 3: s[at] = static_cast<char>(rnd.uniform(256)); break;
        default: s.resize(at); break;
      }
    }
    feed(s);
  }
  SUCCEED() << "no crash over 20000 mutated message sequences";
}

}  // namespace
}  // namespace hcsshim::vsock
