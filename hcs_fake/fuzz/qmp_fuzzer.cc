// qmp_fuzzer: libFuzzer target for the QMP client - the input is what QEMU
// writes on its QMP socket (greeting, replies, events, garbage, a socket
// that ends anywhere). The client negotiates capabilities, runs two
// commands and waits for an event; every call must end (a reply, an error
// or Unavailable once the socket closes) and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hcs_fake/qemu/qmp.h"
#include "sim/node.h"
#include "src/common/log.h"

namespace {

using namespace hcsshim;
using namespace std::chrono_literals;

constexpr char kPath[] = "/run/sim/qmp.sock";

// qemu: accepts the client, writes the input, reads what the client sends
// until it hangs up (or the input says nothing more), then closes.
runtime::Task<void> qemu(sim::Node& n, std::string input, bool& done) {
  std::string path = kPath;
  auto l = n.transport().listen(path);
  if (l.ok()) {
    auto c = co_await (*l)->accept();
    (*l)->close();
    if (c.ok()) {
      (void)co_await (*c)->write(input);
      (*c)->close();
    }
  }
  done = true;
}

// (Named locals, not temporaries, in the co_await expressions: GCC 12.)
runtime::Task<void> client(sim::Node& n, bool& done) {
  std::string path = kPath;
  runtime::Duration timeout = 1s;
  auto q = co_await hcs_fake::QmpClient::connect(n.loop(), n.transport(), path, timeout);
  if (q.ok()) {
    std::string queryStatus = "query-status", deviceAdd = "device_add", deleted = "DEVICE_DELETED";
    Json args = {{"driver", "virtio-pmem-pci"}, {"id", "pmem0"}};
    auto status = co_await (*q)->execute(queryStatus);
    auto added = co_await (*q)->execute(deviceAdd, args);
    auto event = co_await (*q)->waitEvent(deleted, timeout);
    (void)status;
    (void)added;
    (void)event;
    (*q)->close();
  }
  done = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (log::setLevel(LogLevel::kOff), true);
  (void)quiet;
  sim::World world(1, sim::WorldOptions{.maxEvents = 200000});
  sim::Node& vmm = world.addNode("qemu");
  sim::Node& host = world.addNode("host");
  bool served = false, finished = false;
  runtime::spawn(qemu(vmm, std::string(reinterpret_cast<const char*>(data), size), served));
  runtime::spawn(client(host, finished));
  world.runUntil([&] { return served && finished; });
  if (!finished) __builtin_trap();  // a call that never ended
  // Then whatever is still in flight (the client's reader seeing the end of
  // its socket), so that nothing is left suspended.
  world.runUntil([] { return false; });
  return 0;
}
