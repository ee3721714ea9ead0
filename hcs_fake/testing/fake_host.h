// fake_host.h: a simulated Windows host for unit tests - one node on a
// seeded World running the in-process fake HCS, whose VMs' guests are the
// real agent in-process (in_process_guest.h), and a directory of boot files
// (a kernel and initrd the fake checks exist, as HCS does), and the fake HNS.
//
//   hcs_fake::FakeHost host(11);
//   auto vm = sim::run(host.world, uvm::UtilityVM::create(host.node, *host.api,
//                                                         host.guests->vsockFor("vm1"), options));
#pragma once

#include <memory>
#include <string>

#include "hcs_fake/hns.h"
#include "hcs_fake/service.h"
#include "hcs_fake/testing/in_process_guest.h"
#include "sim/node.h"
#include "sim/world.h"

namespace hcsshim::hcs_fake {

struct FakeHost {
  // seed: the world's; the directory is the running gtest's own under TEST_TMPDIR.
  explicit FakeHost(uint64_t seed);
  // dir: its own directory (emptied first), for programs that are no gtest.
  FakeHost(uint64_t seed, std::string dir);
  // shutdown stops every compute system (call before the host goes, while
  // whatever uses the API is still alive to see the exits).
  void shutdown();
  ~FakeHost();

  sim::World world;
  sim::Node& node;
  std::string dir;        // per test; boot files in <dir>/boot
  std::string bootFiles;
  InProcessGuestBackend* guests = nullptr;  // owned by the service
  std::unique_ptr<FakeHcsService> service;
  std::unique_ptr<InProcessHcs> api;
  FakeHns hns{FakeHnsOptions{}};  // the host's HNS (ids from a counter: deterministic)
};

}  // namespace hcsshim::hcs_fake
