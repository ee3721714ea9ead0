#include "gcs/testing/fake_network.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "src/common/hresult.h"

namespace hcsshim::gcs {

using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

FakeNetworkManager::~FakeNetworkManager() { cleanup(); }

void FakeNetworkManager::unplug(const std::string& macIn) {
  std::string mac = linuxMac(macIn);
  nics_.erase(mac);
  for (auto& [id, ns] : namespaces_) {
    if (std::erase_if(ns.adapters, [&](const auto& a) { return a.second.mac == mac; }) > 0) write(ns);
  }
}

StatusOr<std::string> FakeNetworkManager::namespacePath(const std::string& nsid) {
  if (!isNetworkObjectId(nsid)) return InvalidArgumentError("NamespaceID: \"" + nsid + "\" is not a namespace id");
  auto it = namespaces_.find(nsid);
  if (it != namespaces_.end()) return it->second.path;
  std::error_code ec;
  fs::create_directories(stateDir_ + "/netns", ec);
  Namespace& ns = namespaces_[nsid];
  ns.path = stateDir_ + "/netns/" + nsid;
  write(ns);
  return ns.path;
}

void FakeNetworkManager::write(const Namespace& ns) const {
  std::vector<const Adapter*> byIndex;
  for (const auto& [id, a] : ns.adapters) byIndex.push_back(&a);
  std::sort(byIndex.begin(), byIndex.end(), [](const Adapter* x, const Adapter* y) {
    return x->name.size() != y->name.size() ? x->name.size() < y->name.size() : x->name < y->name;
  });
  std::ofstream out(ns.path, std::ios::trunc);
  for (const Adapter* a : byIndex) out << a->name << " " << a->mac << a->addresses << "\n";
}

Task<Status> FakeNetworkManager::addAdapter(bridge::LcowNetworkAdapter a) {
  auto path = namespacePath(a.namespaceId);
  if (!path.ok()) co_return path.status();
  Namespace& ns = namespaces_[a.namespaceId];
  HCS_CO_RETURN_IF_ERROR(newAdapterError(a, ns.adapters.count(a.id) > 0));
  std::string mac = linuxMac(a.macAddress);
  if (!nics_.erase(mac)) co_return noNicError(a);
  Adapter& added = ns.adapters[a.id];
  added.name = "eth" + std::to_string(ns.nextIndex++);
  added.mac = mac;
  for (const auto& c : adapterAddresses(a)) added.addresses += " " + c.ipAddress + "/" + std::to_string(*c.prefixLength);
  std::string resolv = resolvConfText(a);
  if (!resolv.empty()) {
    ns.resolvConf = stateDir_ + "/netns/" + a.namespaceId + ".resolv.conf";
    std::ofstream(ns.resolvConf) << resolv;
  }
  write(ns);
  co_return OkStatus();
}

Task<Status> FakeNetworkManager::removeAdapter(std::string nsid, std::string adapterId) {
  auto it = namespaces_.find(nsid);
  if (it == namespaces_.end() || !it->second.adapters.count(adapterId)) {
    co_return Status::fromHResult(hr::kElementNotFound, "", adapterId, "adapter " + adapterId + " is not in namespace " + nsid);
  }
  nics_.insert(it->second.adapters[adapterId].mac);  // back in the VM's own namespace
  it->second.adapters.erase(adapterId);
  write(it->second);
  co_return OkStatus();
}

std::string FakeNetworkManager::resolvConf(const std::string& nsid) const {
  auto it = namespaces_.find(nsid);
  return it == namespaces_.end() ? "" : it->second.resolvConf;
}

void FakeNetworkManager::cleanup() {
  std::error_code ec;
  for (auto& [id, ns] : namespaces_) {
    for (auto& [aid, a] : ns.adapters) nics_.insert(a.mac);
    fs::remove(ns.path, ec);
    if (!ns.resolvConf.empty()) fs::remove(ns.resolvConf, ec);
  }
  namespaces_.clear();
}

}  // namespace hcsshim::gcs
