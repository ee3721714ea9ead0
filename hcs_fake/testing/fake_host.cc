#include "hcs_fake/testing/fake_host.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace hcsshim::hcs_fake {

namespace fs = std::filesystem;

namespace {

std::string testDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return std::string(tmp ? tmp : "/tmp") + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

}  // namespace

FakeHost::FakeHost(uint64_t seed) : FakeHost(seed, testDir()) {}

FakeHost::FakeHost(uint64_t seed, std::string dirIn) : world(seed), node(world.addNode("host")), dir(std::move(dirIn)) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  bootFiles = dir + "/boot";
  fs::create_directories(bootFiles, ec);
  std::ofstream(bootFiles + "/vmlinux") << "in-process guest: not booted";
  std::ofstream(bootFiles + "/initrd.img") << "in-process guest: not booted";
  auto backend = std::make_unique<InProcessGuestBackend>(node, dir);
  guests = backend.get();
  service = std::make_unique<FakeHcsService>(node, std::move(backend));
  api = std::make_unique<InProcessHcs>(*service);
}

void FakeHost::shutdown() {
  if (!service) return;
  bool done = false;
  runtime::spawn([](FakeHcsService& s, bool& d) -> runtime::Task<void> {
    co_await s.shutdownService();
    d = true;
  }(*service, done));
  world.runUntil([&] { return done; });
}

FakeHost::~FakeHost() {
  api.reset();
  shutdown();
}

}  // namespace hcsshim::hcs_fake
