// fake_network.h: a NetworkManager with the Linux one's observable behaviour
// and no kernel - for the in-process guest and the simulator.
//
//   FakeNetworkManager net(stateDir);
//   net.plug("00-15-5D-00-00-01");   // HCS hot-plugged a NIC with this MAC
//   gcs::Agent agent(rt, dialer, containers, mounter, options, &net);
//
// A namespace is a file <stateDir>/netns/<id> that lists its interfaces, one
// line each: "<name> <mac> <address>/<prefix>..." (eth0, eth1... in the
// order they came) - the fake runtime's `ip` program prints it, so a
// process sees the network of the namespace it joined. Errors are the Linux
// manager's: an unknown id is InvalidArgument, an adapter twice is
// ERROR_ALREADY_EXISTS, a MAC no plugged NIC has (or one already in a
// namespace) and an adapter not in the namespace are ERROR_NOT_FOUND.
#pragma once

#include <map>
#include <set>
#include <string>

#include "gcs/network.h"

namespace hcsshim::gcs {

class FakeNetworkManager final : public NetworkManager {
 public:
  explicit FakeNetworkManager(std::string stateDir) : stateDir_(std::move(stateDir)) {}
  ~FakeNetworkManager() override;

  // plug / unplug: a NIC HCS added to or removed from the VM (any MAC form);
  // an unplugged NIC leaves the namespace it was in.
  void plug(const std::string& mac) { nics_.insert(linuxMac(mac)); }
  void unplug(const std::string& mac);

  runtime::Task<Status> addAdapter(bridge::LcowNetworkAdapter adapter) override;
  runtime::Task<Status> removeAdapter(std::string namespaceId, std::string adapterId) override;
  StatusOr<std::string> namespacePath(const std::string& namespaceId) override;
  std::string resolvConf(const std::string& namespaceId) const override;
  void cleanup() override;

 private:
  struct Adapter {
    std::string name, mac, addresses;
  };
  struct Namespace {
    std::string path, resolvConf;
    std::map<std::string, Adapter> adapters;  // by adapter id
    int nextIndex = 0;
  };
  void write(const Namespace& ns) const;

  std::string stateDir_;
  std::set<std::string> nics_;  // plugged, not in a namespace
  std::map<std::string, Namespace> namespaces_;
};

}  // namespace hcsshim::gcs
