// hns.h: the fake HNS/HCN service (a library; the hcs_fake daemon serves it
// too). Behaviour modelled on HNS:
//   - validation of every document (types, prefixes, MAC ranges, policies),
//     HCN_E_* errors naming the field;
//   - IPAM: an endpoint without an address gets the next free one of its
//     network's subnets (the network address, broadcast and gateway are
//     reserved); MACs from the network's MacPool (or a default pool), unique
//     host-wide; ERROR_NO_MORE_ITEMS when a pool is used up;
//   - port conflicts: endpoint PortMapping/NAT (per network) and load
//     balancer frontends (per VIP) -> HCN_E_PORT_ALREADY_EXISTS;
//   - referential integrity: a network with endpoints, an endpoint behind a
//     load balancer / route / policy list, a namespace with endpoints cannot
//     be deleted (HCN_E_ENTITY_HAS_REFERENCES); an endpoint is in at most one
//     namespace (HCN_E_ENDPOINT_ALREADY_ATTACHED);
//   - networks persist in `statePath` across restarts (as HNS keeps them);
//     endpoints, namespaces and load balancers do not;
//   - the reported HNS version is configurable (GET /globals/version);
//   - the v1 API (HNSCall on /networks, /endpoints, /policylists) over the
//     same objects.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "src/hns/hns_api.h"
#include "src/schema/hns.h"

namespace hcsshim::hcs_fake {

struct FakeHnsOptions {
  schema::HcnVersion version{15, 4, {}};
  std::string statePath;             // "" = no persistence
  std::function<std::string()> newId;  // GUID source (deterministic under sim)
};



class FakeHns {
 public:
  explicit FakeHns(FakeHnsOptions options);
  ~FakeHns();

  StatusOr<std::string> enumerate(hns::HcnObject type, const std::string& query);
  StatusOr<std::string> create(hns::HcnObject type, const std::string& id, const std::string& network,
                               const std::string& settings);
  StatusOr<std::string> query(hns::HcnObject type, const std::string& id, const std::string& query);
  Status modify(hns::HcnObject type, const std::string& id, const std::string& settings);
  Status remove(hns::HcnObject type, const std::string& id);
  StatusOr<std::string> hnsCall(const std::string& method, const std::string& path, const std::string& request);

  // endpoint: the current document of an endpoint (for the VM backend).
  StatusOr<schema::HostComputeEndpoint> endpoint(const std::string& id) const;
  // network: the current document of a network.
  StatusOr<schema::HostComputeNetwork> network(const std::string& id) const;

  struct State;  // the object store (hns.cc)

 private:
  FakeHnsOptions options_;
  std::unique_ptr<State> s_;
};

// InProcessHns: HnsApi over a FakeHns in this process.
class InProcessHns final : public hns::HnsApi {
 public:
  explicit InProcessHns(FakeHns& fake) : fake_(fake) {}
  runtime::Task<StatusOr<std::string>> enumerate(hns::HcnObject type, std::string query) override;
  runtime::Task<StatusOr<std::string>> create(hns::HcnObject type, std::string id, std::string network,
                                              std::string settings) override;
  runtime::Task<StatusOr<std::string>> query(hns::HcnObject type, std::string id, std::string query) override;
  runtime::Task<Status> modify(hns::HcnObject type, std::string id, std::string settings) override;
  runtime::Task<Status> remove(hns::HcnObject type, std::string id) override;
  runtime::Task<StatusOr<std::string>> hnsCall(std::string method, std::string path, std::string request) override;

 private:
  FakeHns& fake_;
};

}  // namespace hcsshim::hcs_fake
