// network.h: the guest's side of HNS endpoints (ModifySettings, resource type
// Network). An endpoint's NIC appears in the VM with the endpoint's MAC; the
// guest moves it into the network namespace of its HCN namespace
// (NamespaceID), names it eth0, eth1..., and gives it the endpoint's
// addresses, routes and DNS. Containers whose spec names that namespace
// (windows.network.networkNamespace, as hcsshim sends) join it and get its
// resolv.conf.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/bridge/messages.h"
#include "src/runtime/process.h"
#include "src/runtime/task.h"

namespace hcsshim::gcs {

// isNetworkObjectId: an HCN id (namespace, endpoint) as the guest accepts it.
bool isNetworkObjectId(const std::string& id);
// linuxMac: an HNS MAC ("00-15-5D-...") in Linux's form ("00:15:5d:...").
std::string linuxMac(std::string mac);
// adapterAddresses: an adapter's addresses (IPConfigs, or the older single
// IPAddress), each with its prefix length (default /24, /64 for IPv6).
std::vector<bridge::LcowIpConfig> adapterAddresses(const bridge::LcowNetworkAdapter& a);
// resolvConfText: the resolv.conf an adapter's DNS settings make ("" if none).
std::string resolvConfText(const bridge::LcowNetworkAdapter& a);

// newAdapterError: why an adapter cannot join a namespace - an id that is
// not one (InvalidArgument), or one already there (ERROR_ALREADY_EXISTS);
// OK otherwise. noNicError: no NIC in the VM has the adapter's MAC.
// (Shared by the Linux and the fake managers: the same answers.)
Status newAdapterError(const bridge::LcowNetworkAdapter& a, bool alreadyInNamespace);
Status noNicError(const bridge::LcowNetworkAdapter& a);

class NetworkManager {
 public:
  virtual ~NetworkManager() = default;
  virtual runtime::Task<Status> addAdapter(bridge::LcowNetworkAdapter adapter) = 0;
  virtual runtime::Task<Status> removeAdapter(std::string namespaceId, std::string adapterId) = 0;
  // namespacePath: the network namespace file for an HCN namespace (made on first use).
  virtual StatusOr<std::string> namespacePath(const std::string& namespaceId) = 0;
  // resolvConf: the namespace's resolv.conf ("" if its adapters named no DNS).
  virtual std::string resolvConf(const std::string& namespaceId) const = 0;
  // cleanup: every namespace this guest made goes (the VM is stopping).
  virtual void cleanup() = 0;
};

// LinuxNetworkManager: namespaces are nsfs bind mounts under <stateDir>/netns;
// links move with rtnetlink and are configured with iproute2 (`ip`) run inside
// the namespace through `nsenter`.
class LinuxNetworkManager final : public NetworkManager {
 public:
  LinuxNetworkManager(runtime::ProcessRunner& runner, std::string stateDir, std::string ipPath = "ip",
                      std::string nsenterPath = "nsenter");
  ~LinuxNetworkManager() override;
  runtime::Task<Status> addAdapter(bridge::LcowNetworkAdapter adapter) override;
  runtime::Task<Status> removeAdapter(std::string namespaceId, std::string adapterId) override;
  StatusOr<std::string> namespacePath(const std::string& namespaceId) override;
  std::string resolvConf(const std::string& namespaceId) const override;
  void cleanup() override;

 private:
  struct Namespace {
    std::string path;
    std::map<std::string, std::string> adapters;  // adapter id -> interface name in the namespace
    int nextIndex = 0;
    std::string resolvConf;
  };
  runtime::Task<Status> ip(std::string nsPath, std::vector<std::string> args);

  runtime::ProcessRunner& runner_;
  std::string stateDir_, ipPath_, nsenterPath_;
  std::map<std::string, Namespace> namespaces_;
};

}  // namespace hcsshim::gcs
