// random.h: the project's only source of randomness.
//
// A portable, seeded PRNG (xoshiro256**, seeded through splitmix64) with its
// own range functions, so that a seed gives the same sequence on every
// platform and standard library (std:: distributions do not guarantee that).
// Components take a Random& from their runtime; the simulator seeds it from
// the run's seed, the real runtime from the kernel.
//
//   Random r(42);
//   uint64_t lun = r.uniform(64);        // 0..63
//   if (r.chance(0.01)) dropWrite();
#pragma once

#include <cstdint>
#include <string>

namespace hcsshim::runtime {

class Random {
 public:
  explicit Random(uint64_t seed);

  // fromKernel seeds from getrandom(2) (real runtime only).
  static Random fromKernel();

  uint64_t next();
  // uniform returns a value in [0, n) without modulo bias; n == 0 returns 0.
  uint64_t uniform(uint64_t n);
  // between returns a value in [lo, hi] inclusive.
  uint64_t between(uint64_t lo, uint64_t hi);
  // chance is true with probability p (0 <= p <= 1).
  bool chance(double p);
  // unit returns a double in [0, 1).
  double unit();
  // fork derives an independent generator (e.g. one per simulated node).
  Random fork();
  // bytes returns n random bytes.
  std::string bytes(size_t n);

  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
  uint64_t s_[4];
};

}  // namespace hcsshim::runtime
