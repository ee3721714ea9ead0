// fake_runtime.h: a ContainerRuntime with runc's observable behaviour and
// no runc, and a Mounter that only records - so the guest agent (and the
// host stack above it) runs in a unit test or in the simulator.
//
//   FakeContainerRuntime containers(rt, "unix:///run/fake-stdio");
//   FakeMounter mounter;
//   gcs::Agent agent(rt, dialer, containers, mounter, options);
//
// A process's program is its args (what a busybox image would do):
//   echo ARGS...    writes ARGS and a newline to stdout, exits 0
//   exit N          exits N          true / false   exit 0 / 1
//   sleep           runs until signalled (exit 128 + signal)
//   cat             copies stdin to stdout until EOF, exits 0
//   ip              writes "lo" and the interfaces of the network namespace
//                   its container joined (linux.namespaces, the namespace
//                   file of fake_network.h), exits 0
//   anything else   create/exec fails as runc's: executable file not found
// Signals end a running process with 128 + signal (SIGKILL cannot be
// ignored); a frozen runtime (setFrozen) makes no progress at all - output,
// exits and signals wait until it is thawed. States follow runc: a created
// container's init waits for start; start returns a little after the init
// runs (and fails if the container's state was removed meanwhile, as runc
// start does when its exec.fifo vanishes); remove refuses a running
// container unless forced.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gcs/container_runtime.h"
#include "gcs/storage.h"
#include "src/runtime/runtime.h"

namespace hcsshim::gcs {

struct FakeProcessState;

class FakeContainerRuntime final : public ContainerRuntime {
 public:
  // stdioAddressPrefix: where this runtime makes its stdio stream pairs
  // (prefix + a sequence number), on rt's transport.
  FakeContainerRuntime(runtime::Runtime& rt, std::string stdioAddressPrefix);
  ~FakeContainerRuntime() override;

  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> create(std::string id, std::string bundle,
                                                                     StdioSpec stdio) override;
  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> run(std::string id, std::string bundle,
                                                                  StdioSpec stdio) override;
  runtime::Task<Status> start(std::string id) override;
  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> exec(std::string id, Json ociProcess,
                                                                   StdioSpec stdio) override;
  runtime::Task<Status> update(std::string id, Json resources) override;
  runtime::Task<Status> remove(std::string id, bool force) override;
  runtime::Task<StatusOr<std::vector<int>>> pids(std::string id) override;
  bool exists(const std::string& id) const override;

  // setFrozen: a frozen runtime's processes make no progress (a paused VM).
  void setFrozen(bool frozen);
  // killAll: the VM is gone - every process dies with it (killed, its stdin
  // closed under it), frozen ones too.
  void killAll();
  // updates: what update() was given, per container.
  const std::map<std::string, std::vector<Json>>& updates() const { return updates_; }

 private:
  struct Container;
  runtime::Task<StatusOr<std::unique_ptr<ContainerProcess>>> spawnProcess(std::shared_ptr<Container> c, Json process,
                                                                          StdioSpec stdio, bool startNow);
  runtime::Runtime& rt_;
  std::string prefix_;
  uint64_t nextStream_ = 0;
  int nextPid_ = 100;
  std::map<std::string, std::shared_ptr<Container>> containers_;
  std::map<std::string, std::vector<Json>> updates_;
  std::shared_ptr<bool> frozen_;
  std::shared_ptr<runtime::WaitList> thawed_;
};

class FakeMounter final : public Mounter {
 public:
  Status mount(const std::string& source, const std::string& target, const std::string& fstype, unsigned long flags,
               const std::string& data) override;
  Status unmount(const std::string& target) override;
  bool isMountPoint(const std::string& path) const override { return mounted_.count(path) > 0; }
  Status mountImage(const std::string& image, const std::string& target, const std::string& fstype, bool readOnly,
                    uint64_t offset, uint64_t size) override;
  Status mount9p(uint32_t port, const std::string& share, const std::string& target, bool readOnly) override;
  // mounted: target -> what is mounted there ("overlay", "bind <source>", ...).
  const std::map<std::string, std::string>& mounted() const { return mounted_; }

 private:
  std::map<std::string, std::string> mounted_;
};

}  // namespace hcsshim::gcs
