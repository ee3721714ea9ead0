// HNS/HCN conformance scenarios, written only against hns::HnsApi (through
// the typed hns::HcnClient, and raw HnsApi calls for hostile input). Every
// scenario runs against the in-process fake HNS and against the hcs_fake
// daemon binary (platforms/linux's DaemonHns); on Windows,
// computenetwork.dll plugs in as another backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "functional/harness/hcs_fake_daemon.h"
#include "hcs_fake/hns.h"
#include "platforms/linux/daemon_hns.h"
#include "src/common/hresult.h"
#include "src/common/status_matchers.h"
#include "src/hns/hcn.h"
#include "src/hns/hns_v1.h"
#include "src/runtime/random.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::functional {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using hns::HcnObject;
using runtime::Task;
using namespace schema;
namespace hr = hresult;

// HnsBackend: one way of reaching HNS. restart() stops the service and starts
// it again on the same state (optionally reporting another version).
class HnsBackend {
 public:
  virtual ~HnsBackend() = default;
  virtual hns::HnsApi& api() = 0;
  virtual void restart(HcnVersion version) = 0;
};

class InProcessBackend : public HnsBackend {
 public:
  explicit InProcessBackend(std::string dir) : state_(dir + "/hns.json") { restart({15, 4, {}}); }
  hns::HnsApi& api() override { return *api_; }
  void restart(HcnVersion version) override {
    api_.reset();
    fake_.reset();
    fake_ = std::make_unique<hcs_fake::FakeHns>(hcs_fake::FakeHnsOptions{version, state_, nullptr});
    api_ = std::make_unique<hcs_fake::InProcessHns>(*fake_);
  }

 private:
  std::string state_;
  std::unique_ptr<hcs_fake::FakeHns> fake_;
  std::unique_ptr<hcs_fake::InProcessHns> api_;
};

class DaemonBackend : public HnsBackend {
 public:
  DaemonBackend(runtime::RealRuntime& rt, std::string dir) : rt_(rt), dir_(std::move(dir)) { restart({15, 4, {}}); }
  ~DaemonBackend() override {
    api_.reset();
    if (daemon_) daemon_->stop();
  }
  hns::HnsApi& api() override { return *api_; }
  // stopDaemon: the service goes away; the client stays (calls must fail).
  void stopDaemon() {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0);
    }
    daemon_.reset();
  }
  void restart(HcnVersion version) override {
    api_.reset();
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0);
    }
    daemon_.reset();
    // --gcs-debug right before --hns-version: a flag parser that matched
    // prefixes took "--gcs-debug" for "--gcs" and the next flag for its value.
    auto d = HcsFakeDaemon::start(rt_, dir_,
                                  {"-quiet", "--vm-backend", "none", "--gcs-debug", "--hns-version",
                                   std::to_string(version.major) + "." + std::to_string(version.minor)});
    ASSERT_THAT(d, IsOk());
    daemon_ = std::move(*d);
    auto c = runtime::blockOn(rt_.loop(), platforms::DaemonHns::connect(rt_, daemon_->address()));
    ASSERT_THAT(c, IsOk());
    api_ = std::move(*c);
  }

 private:
  runtime::RealRuntime& rt_;
  std::string dir_;
  std::unique_ptr<HcsFakeDaemon> daemon_;
  std::unique_ptr<hns::HnsApi> api_;
};

class HnsConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // HNS_BACKEND, else the conformance runner's HCS_BACKEND (fake = all).
    const char* only = std::getenv("HNS_BACKEND");
    if (!only || !*only) only = std::getenv("HCS_BACKEND");
    bool all = !only || !*only || std::string(only) == "fake" || std::string(only) == "qemu";
    if (!all && std::string(only) != GetParam()) {
      GTEST_SKIP() << "backend " << GetParam() << " not selected (" << only << ")";
    }
    rt_ = std::move(*runtime::RealRuntime::create("hns-conformance"));
    char tmpl[] = "/tmp/hns-conf-XXXXXX";
    dir_ = mkdtemp(tmpl);
    if (GetParam() == "daemon") {
      backend_ = std::make_unique<DaemonBackend>(*rt_, dir_);
    } else {
      backend_ = std::make_unique<InProcessBackend>(dir_);
    }
    hcn_ = std::make_unique<hns::HcnClient>(backend_->api());
  }
  void TearDown() override {
    hcn_.reset();
    backend_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void restart(HcnVersion v) {
    hcn_.reset();
    backend_->restart(v);
    hcn_ = std::make_unique<hns::HcnClient>(backend_->api());
  }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }

  static HcnPolicy policy(std::string type, const char* settings) {
    return HcnPolicy{std::move(type), *parseJson(settings), {}};
  }

  // A NAT network with one subnet (gateway .1) and the given MAC pool.
  HostComputeNetwork natNetwork(const std::string& name, const std::string& prefix, const std::string& gateway,
                                std::string macStart = "", std::string macEnd = "") {
    HostComputeNetwork n = hns::natNetwork(name, prefix, gateway);
    if (!macStart.empty()) n.macPool = HcnMacPool{{{macStart, macEnd, {}}}, {}};
    return n;
  }
  HostComputeNetwork mustNetwork(HostComputeNetwork n) {
    auto r = run(hcn_->createNetwork(std::move(n)));
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : HostComputeNetwork{};
  }
  HostComputeEndpoint mustEndpoint(const std::string& net, HostComputeEndpoint e = {}) {
    auto r = run(hcn_->createEndpoint(net, std::move(e)));
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : HostComputeEndpoint{};
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_;
  std::unique_ptr<HnsBackend> backend_;
  std::unique_ptr<hns::HcnClient> hcn_;
};

TEST_P(HnsConformanceTest, NetworkRoundTripListAndDelete) {
  HostComputeNetwork n = natNetwork("conf-nat", "172.30.0.0/24", "172.30.0.1", "00-15-5D-AA-00-00", "00-15-5D-AA-00-FF");
  n.ipams[0].subnets[0].policies.push_back(policy("VLAN", R"({"IsolationId":12})"));
  n.ipams[0].subnets[0].policies.push_back(policy("VSID", R"({"IsolationId":5000})"));
  n.policies.push_back(policy("NetAdapterName", R"({"NetworkAdapterName":"eth0"})"));
  n.policies.push_back(policy("ProviderAddress", R"({"ProviderAddress":"10.0.0.4"})"));
  n.dns = HcnDns{};
  n.dns->suffix = "corp.example";
  n.dns->serverList = {"172.30.0.53"};
  auto created = mustNetwork(n);
  ASSERT_TRUE(created.id);
  auto got = run(hcn_->getNetwork(*created.id));
  ASSERT_THAT(got, IsOk());
  // Everything sent comes back, plus the assigned id and schema version.
  n.id = created.id;
  n.schemaVersion = HcnVersion{2, 0, {}};
  EXPECT_EQ(encode(*got), encode(n));
  mustNetwork(natNetwork("conf-other", "172.31.0.0/24", "172.31.0.1"));
  auto byName = run(hcn_->listNetworks(Json{{"Name", "conf-nat"}}));
  ASSERT_THAT(byName, IsOk());
  ASSERT_EQ(byName->size(), 1u);
  EXPECT_EQ(byName->at(0).id, created.id);
  EXPECT_EQ(run(hcn_->listNetworks(Json()))->size(), 2u);
  // Policies added and removed later.
  auto extra = policy("DrMacAddress", R"({"Address":"00-15-5D-00-00-01"})");
  EXPECT_THAT(run(hcn_->modifyNetworkPolicies(*created.id, "Add", {extra})), IsOk());
  EXPECT_THAT(run(hcn_->modifyNetworkPolicies(*created.id, "Add", {extra})), HResultIs(hr::kHcnPolicyAlreadyExists));
  EXPECT_EQ(run(hcn_->getNetwork(*created.id))->policies.size(), 3u);
  EXPECT_THAT(run(hcn_->modifyNetworkPolicies(*created.id, "Remove", {extra})), IsOk());
  EXPECT_EQ(run(hcn_->getNetwork(*created.id))->policies.size(), 2u);
  EXPECT_THAT(run(hcn_->deleteNetwork(*created.id)), IsOk());
  EXPECT_THAT(run(hcn_->getNetwork(*created.id)), HResultIs(hr::kElementNotFound));
}

// Every endpoint policy type goes in and comes back unchanged; Add, Remove
// and Update modify the set.
TEST_P(HnsConformanceTest, EveryEndpointPolicyTypeRoundTrips) {
  auto net = mustNetwork(natNetwork("conf-pol", "172.30.1.0/24", "172.30.1.1"));
  HostComputeEndpoint e;
  e.policies = {
      policy("PortMapping", R"({"Protocol":6,"InternalPort":80,"ExternalPort":8080,"VIP":"10.1.1.1","Flags":1})"),
      policy("ACL", R"({"Protocols":"6","Action":"Allow","Direction":"In","LocalPorts":"80","RuleType":"Switch","Priority":100})"),
      policy("ACL", R"({"Action":"Block","Direction":"Out","RemoteAddresses":"10.9.0.0/16","RuleType":"Host"})"),
      policy("QOS", R"({"MaximumOutgoingBandwidthInBytes":1000000})"),
      policy("OutBoundNAT", R"({"VirtualIP":"10.1.1.2","Exceptions":["10.0.0.0/8"]})"),
      policy("SDNRoute", R"({"DestinationPrefix":"10.2.0.0/16","NextHop":"172.30.1.1","NeedEncap":true})"),
      policy("L2Driver", R"({})"),
      policy("L4Proxy", R"({"Port":"3128"})"),
      policy("L4WFPPROXY", R"({"Port":"3129","FilterTuple":{"Protocols":"6"}})"),
      policy("PortName", R"({"Name":"port1"})"),
      policy("EncapOverhead", R"({"Overhead":50})"),
      policy("ProviderAddress", R"({"ProviderAddress":"10.0.0.5"})"),
      policy("InterfaceConstraint", R"({"InterfaceIndex":3})"),
      policy("TierAcl", R"({"Action":"Allow","Direction":"In"})"),
      policy("Iov", R"({"IovOffloadWeight":100})"),
  };
  auto ep = mustEndpoint(*net.id, e);
  auto got = run(hcn_->getEndpoint(*ep.id));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(encode(got->policies), encode(e.policies));
  auto qos = policy("QOS", R"({"MaximumOutgoingBandwidthInBytes":1000000})");
  EXPECT_THAT(run(hcn_->modifyEndpointPolicies(*ep.id, "Remove", {qos})), IsOk());
  EXPECT_EQ(run(hcn_->getEndpoint(*ep.id))->policies.size(), e.policies.size() - 1);
  EXPECT_THAT(run(hcn_->modifyEndpointPolicies(*ep.id, "Remove", {qos})), HResultIs(hr::kElementNotFound));
  EXPECT_THAT(run(hcn_->modifyEndpointPolicies(*ep.id, "Update", {qos})), IsOk());
  EXPECT_EQ(encode(run(hcn_->getEndpoint(*ep.id))->policies), encode(std::vector<HcnPolicy>{qos}));
  EXPECT_THAT(run(hcn_->deleteEndpoint(*ep.id)), IsOk());
}

// The v1 API (hcsshim's HNSNetwork/HNSEndpoint/PolicyList): every v1 policy
// type on networks, endpoints and policy lists comes back exactly as sent.
TEST_P(HnsConformanceTest, EveryV1PolicyTypeRoundTrips) {
  hns::HnsV1Client v1(backend_->api());
  EXPECT_EQ(run(v1.version())->major, 15u);
  HnsNetwork net;
  net.name = "v1net";
  net.type = "NAT";
  net.policies = {encode(VlanPolicy{.vlan = 100}), encode(VsidPolicy{.vsid = 5001}), encode(GenericPolicy{v1policy::kVNet, {}}),
                  encode(GenericPolicy{v1policy::kL2Driver, {}}),
                  encode(IsolationPolicy{.vlan = 7, .vsid = 4097, .inDefaultIsolation = true}),
                  encode(PaPolicy{.pa = "10.0.0.7"})};
  net.subnets.push_back({"172.29.0.0/24", "172.29.0.1", {}, {}});
  net.dnsServerList = "172.29.0.53,172.29.0.54";
  auto n = run(v1.createNetwork(net));
  ASSERT_THAT(n, IsOk());
  auto gotNet = run(v1.getNetwork(*n->id));
  ASSERT_THAT(gotNet, IsOk());
  EXPECT_EQ(encode(gotNet->policies), encode(net.policies));
  EXPECT_EQ(gotNet->dnsServerList, net.dnsServerList);
  ASSERT_EQ(gotNet->subnets.size(), 1u);
  EXPECT_EQ(gotNet->subnets[0].gatewayAddress, "172.29.0.1");
  // The same network is an HCN network too.
  EXPECT_EQ(run(hcn_->getNetwork(*n->id))->ipams.at(0).subnets.at(0).ipAddressPrefix, "172.29.0.0/24");
  AclPolicy allowIn;
  allowIn.protocols = "6";
  allowIn.action = kActionAllow;
  allowIn.direction = kDirectionIn;
  allowIn.localPorts = "80";
  allowIn.ruleType = kRuleSwitch;
  allowIn.priority = 200;
  AclPolicy blockOut;
  blockOut.action = kActionBlock;
  blockOut.direction = kDirectionOut;
  blockOut.ruleType = kRuleHost;
  OutboundNatPolicy onat;
  onat.vip = "10.0.0.9";
  onat.exceptions = {"10.0.0.0/8"};
  ProxyPolicy proxy;
  proxy.ip = "10.0.0.3";
  proxy.port = "3128";
  proxy.exceptionList = {"localhost"};
  proxy.outboundNat = true;
  HnsEndpoint ep;
  ep.name = "v1ep";
  ep.virtualNetwork = n->id;
  ep.policies = {encode(NatPolicy{.protocol = "TCP", .internalPort = 80, .externalPort = 8081}), encode(allowIn), encode(blockOut),
                 encode(QosPolicy{.maximumOutgoingBandwidthInBytes = 5000}), encode(onat), encode(proxy)};
  auto e = run(v1.createEndpoint(ep));
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->ipAddress, "172.29.0.2");
  EXPECT_EQ(e->gatewayAddress, "172.29.0.1");
  EXPECT_EQ(e->virtualNetworkName, "v1net");
  EXPECT_EQ(encode(run(v1.getEndpoint(*e->id))->policies), encode(ep.policies));
  // A second endpoint with the same NAT mapping: a port conflict.
  EXPECT_THAT(run(v1.createEndpoint(ep)), HResultIs(hr::kHcnPortAlreadyExists));
  ElbPolicy elb;
  elb.protocol = 6;
  elb.internalPort = 80;
  elb.externalPort = 9000;
  elb.sourceVip = "172.29.0.2";
  elb.vips = {"10.0.0.100"};
  elb.ilb = true;
  RoutePolicy route;
  route.destinationPrefix = "10.3.0.0/16";
  route.nextHop = "172.29.0.1";
  route.encapEnabled = true;
  HnsPolicyList pl;
  pl.endpointReferences = {"/endpoints/" + *e->id};
  pl.policies = {encode(elb), encode(route)};
  auto l = run(v1.createPolicyList(pl));
  ASSERT_THAT(l, IsOk());
  EXPECT_EQ(encode(run(v1.getPolicyList(*l->id))->policies), encode(pl.policies));
  EXPECT_EQ(run(v1.listPolicyLists())->size(), 1u);
  // The same ELB frontend again: a port conflict.
  EXPECT_THAT(run(v1.createPolicyList(pl)), HResultIs(hr::kHcnPortAlreadyExists));
  // A NAT policy is not a policy-list policy.
  HnsPolicyList wrong;
  wrong.policies = {ep.policies[0]};
  EXPECT_THAT(run(v1.createPolicyList(wrong)), HResultIs(hr::kHcnInvalidPolicyType));
  // The endpoint is referenced by the list: it stays until the list goes.
  EXPECT_THAT(run(v1.deleteEndpoint(*e->id)), HResultIs(hr::kHcnEntityHasReferences));
  EXPECT_THAT(run(v1.deletePolicyList(*l->id)), IsOk());
  EXPECT_THAT(run(v1.deleteEndpoint(*e->id)), IsOk());
  EXPECT_TRUE(run(v1.listEndpoints())->empty());
  EXPECT_THAT(run(v1.deleteNetwork(*n->id)), IsOk());
  EXPECT_THAT(run(v1.getNetwork(*n->id)), HResultIs(hr::kElementNotFound));
  EXPECT_THAT(run(v1.getNetwork("../globals/version")), StatusIs(Code::kInvalidArgument));
  // The raw wire form: VNet in, VNET out (hcsshim's spelling).
  auto raw = run(backend_->api().hnsCall("POST", "/networks/", R"({"Type":"NAT","Policies":[{"Type":"VNet"}]})"));
  ASSERT_THAT(raw, IsOk());
  EXPECT_EQ((*parseJson(*raw))["Policies"], *parseJson(R"([{"Type":"VNET"}])"));
}

TEST_P(HnsConformanceTest, IpamAllocatesReleasesAndExhausts) {
  // A /29: network .0, gateway .1, broadcast .7 -> five endpoint addresses.
  auto net = mustNetwork(natNetwork("conf-ipam", "172.30.2.0/29", "172.30.2.1"));
  std::vector<std::string> ids, ips;
  for (int i = 0; i < 5; ++i) {
    auto ep = mustEndpoint(*net.id);
    ASSERT_EQ(ep.ipConfigurations.size(), 1u);
    ids.push_back(*ep.id);
    ips.push_back(*ep.ipConfigurations[0].ipAddress);
    EXPECT_EQ(ep.ipConfigurations[0].prefixLength, 29);
    ASSERT_EQ(ep.routes.size(), 1u);
    EXPECT_EQ(ep.routes[0].nextHop, "172.30.2.1");
  }
  EXPECT_THAT(ips, ElementsAre("172.30.2.2", "172.30.2.3", "172.30.2.4", "172.30.2.5", "172.30.2.6"));
  auto full = run(hcn_->createEndpoint(*net.id, {}));
  EXPECT_THAT(full, HResultIs(hr::kNoMoreItems));
  EXPECT_THAT(full, StatusIs(Code::kResourceExhausted, "no free address"));
  // A released address is handed out again.
  ASSERT_THAT(run(hcn_->deleteEndpoint(ids[2])), IsOk());
  EXPECT_EQ(*mustEndpoint(*net.id).ipConfigurations[0].ipAddress, "172.30.2.4");
  // Static addresses: outside every subnet, the gateway, or taken -> HCN_E_INVALID_IP.
  for (const char* bad : {"10.0.0.5", "172.30.2.1", "172.30.2.3", "not-an-ip"}) {
    HostComputeEndpoint e;
    e.ipConfigurations.push_back({bad, {}, {}});
    EXPECT_THAT(run(hcn_->createEndpoint(*net.id, e)), HResultIs(hr::kHcnInvalidIp)) << bad;
  }
  // MACs come from the pool, unique, until it is used up.
  auto small = mustNetwork(natNetwork("conf-mac", "172.30.3.0/24", "172.30.3.1", "00-15-5D-BB-00-00", "00-15-5D-BB-00-01"));
  EXPECT_EQ(*mustEndpoint(*small.id).macAddress, "00-15-5D-BB-00-00");
  EXPECT_EQ(*mustEndpoint(*small.id).macAddress, "00-15-5D-BB-00-01");
  EXPECT_THAT(run(hcn_->createEndpoint(*small.id, {})), HResultIs(hr::kNoMoreItems));
  HostComputeEndpoint dupMac;
  dupMac.macAddress = "00-15-5D-BB-00-00";
  auto roomy = mustNetwork(natNetwork("conf-mac2", "172.30.10.0/24", "172.30.10.1"));
  EXPECT_THAT(run(hcn_->createEndpoint(*roomy.id, dupMac)), HResultIs(hr::kAlreadyExists));
}

TEST_P(HnsConformanceTest, PortMappingAndLoadBalancerConflicts) {
  auto net = mustNetwork(natNetwork("conf-ports", "172.30.4.0/24", "172.30.4.1"));
  HostComputeEndpoint a;
  a.policies.push_back(policy("PortMapping", R"({"Protocol":6,"InternalPort":80,"ExternalPort":8080})"));
  auto epA = mustEndpoint(*net.id, a);
  auto clash = run(hcn_->createEndpoint(*net.id, a));
  EXPECT_THAT(clash, HResultIs(hr::kHcnPortAlreadyExists));
  EXPECT_THAT(clash, StatusIs(Code::kAlreadyExists, "6/8080"));
  HostComputeEndpoint udp;
  udp.policies.push_back(policy("PortMapping", R"({"Protocol":17,"InternalPort":80,"ExternalPort":8080})"));
  auto epB = mustEndpoint(*net.id, udp);
  // Adding a clashing mapping later is refused too, and leaves the endpoint as it was.
  EXPECT_THAT(run(hcn_->modifyEndpointPolicies(*epB.id, "Add", a.policies)), HResultIs(hr::kHcnPortAlreadyExists));
  EXPECT_EQ(run(hcn_->getEndpoint(*epB.id))->policies.size(), 1u);
  // Once the first endpoint is gone, its port is free.
  ASSERT_THAT(run(hcn_->deleteEndpoint(*epA.id)), IsOk());
  mustEndpoint(*net.id, a);
  // Load balancers: one frontend (protocol, port, VIP) each.
  HostComputeLoadBalancer lb;
  lb.hostComputeEndpoints = {*epB.id};
  lb.sourceVip = "172.30.4.250";
  lb.frontendVips = {"10.10.0.1"};
  lb.portMappings.push_back({6, 80, 443, {}, {}, {}});
  auto lb1 = run(hcn_->createLoadBalancer(lb));
  ASSERT_THAT(lb1, IsOk());
  EXPECT_THAT(run(hcn_->createLoadBalancer(lb)), HResultIs(hr::kHcnPortAlreadyExists));
  lb.frontendVips = {"10.10.0.2"};
  EXPECT_THAT(run(hcn_->createLoadBalancer(lb)), IsOk());
  auto got = run(hcn_->getLoadBalancer(*lb1->id));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->portMappings[0].externalPort, 443);
  EXPECT_EQ(got->hostComputeEndpoints, std::vector<std::string>{*epB.id});
  // Updating the first LB onto the second's frontend is refused; it keeps its own.
  lb.id = lb1->id;
  EXPECT_THAT(run(hcn_->updateLoadBalancer(*lb1->id, lb)), HResultIs(hr::kHcnPortAlreadyExists));
  EXPECT_EQ(run(hcn_->getLoadBalancer(*lb1->id))->frontendVips, std::vector<std::string>{"10.10.0.1"});
  lb.frontendVips = {"10.10.0.3"};
  EXPECT_THAT(run(hcn_->updateLoadBalancer(*lb1->id, lb)), IsOk());
  EXPECT_EQ(run(hcn_->getLoadBalancer(*lb1->id))->frontendVips, std::vector<std::string>{"10.10.0.3"});
  EXPECT_EQ(run(hcn_->listLoadBalancers(Json()))->size(), 2u);
}

TEST_P(HnsConformanceTest, ReferentialIntegrityAndNamespaces) {
  auto net = mustNetwork(natNetwork("conf-refs", "172.30.5.0/24", "172.30.5.1"));
  auto ep = mustEndpoint(*net.id);
  EXPECT_THAT(run(hcn_->deleteNetwork(*net.id)), HResultIs(hr::kHcnEntityHasReferences));
  HostComputeNamespace nsDoc;
  nsDoc.type = "Host";
  auto ns1 = run(hcn_->createNamespace(nsDoc));
  auto ns2 = run(hcn_->createNamespace(nsDoc));
  ASSERT_THAT(ns1, IsOk());
  ASSERT_THAT(ns2, IsOk());
  EXPECT_NE(ns1->namespaceId, ns2->namespaceId);
  ASSERT_THAT(run(hcn_->attachEndpoint(*ns1->id, *ep.id)), IsOk());
  EXPECT_THAT(run(hcn_->attachEndpoint(*ns1->id, *ep.id)), IsOk());  // already there: no-op
  EXPECT_THAT(run(hcn_->attachEndpoint(*ns2->id, *ep.id)), HResultIs(hr::kHcnEndpointAlreadyAttached));
  auto got = run(hcn_->getNamespace(*ns1->id));
  ASSERT_THAT(got, IsOk());
  ASSERT_EQ(got->resources.size(), 1u);
  EXPECT_EQ(got->resources[0].type, "Endpoint");
  EXPECT_EQ(got->resources[0].data["ID"], *ep.id);
  EXPECT_EQ(run(hcn_->getEndpoint(*ep.id))->hostComputeNamespace, ns1->id);
  EXPECT_THAT(run(hcn_->deleteNamespace(*ns1->id)), HResultIs(hr::kHcnEntityHasReferences));
  EXPECT_THAT(run(hcn_->detachEndpoint(*ns2->id, *ep.id)), HResultIs(hr::kHcnEndpointNotAttached));
  // An endpoint behind a load balancer or a route stays until they go.
  HostComputeLoadBalancer lb;
  lb.hostComputeEndpoints = {*ep.id};
  lb.portMappings.push_back({6, 80, 80, {}, {}, {}});
  auto lb1 = run(hcn_->createLoadBalancer(lb));
  ASSERT_THAT(lb1, IsOk());
  HostComputeRoute route;
  route.hostComputeEndpoints = {*ep.id};
  route.setting.push_back({"10.4.0.0/16", "172.30.5.1", true, {}});
  auto r1 = run(hcn_->createRoute(route));
  ASSERT_THAT(r1, IsOk());
  EXPECT_EQ(run(hcn_->getRoute(*r1->id))->setting[0].destinationPrefix, "10.4.0.0/16");
  EXPECT_THAT(run(hcn_->deleteEndpoint(*ep.id)), HResultIs(hr::kHcnEntityHasReferences));
  ASSERT_THAT(run(hcn_->deleteLoadBalancer(*lb1->id)), IsOk());
  EXPECT_THAT(run(hcn_->deleteEndpoint(*ep.id)), HResultIs(hr::kHcnEntityHasReferences));
  ASSERT_THAT(run(hcn_->deleteRoute(*r1->id)), IsOk());
  // Deleting the endpoint detaches it; then everything goes.
  ASSERT_THAT(run(hcn_->deleteEndpoint(*ep.id)), IsOk());
  EXPECT_TRUE(run(hcn_->getNamespace(*ns1->id))->resources.empty());
  EXPECT_THAT(run(hcn_->deleteNamespace(*ns1->id)), IsOk());
  EXPECT_THAT(run(hcn_->deleteNetwork(*net.id)), IsOk());
  EXPECT_TRUE(run(hcn_->listEndpoints(Json()))->empty());
}

TEST_P(HnsConformanceTest, FeatureGatesFollowTheReportedVersion) {
  auto dsrLb = [&](const std::string& ep) {
    HostComputeLoadBalancer lb;
    lb.hostComputeEndpoints = {ep};
    lb.flags = kLoadBalancerFlagsDsr;
    lb.portMappings.push_back({6, 80, 8000, {}, {}, {}});
    return lb;
  };
  auto countNetworks = [&] { return parseJson(*run(backend_->api().enumerate(HcnObject::kNetwork, "")))->size(); };
  restart({9, 1, {}});
  auto refused = run(hcn_->createNetwork(natNetwork("gated", "172.30.6.0/24", "172.30.6.1")));
  EXPECT_THAT(refused, StatusIs(Code::kUnimplemented, "HNS 9.1 does not support the HCN v2 API (needs 9.2 or later)"));
  EXPECT_THAT(refused, HResultIs(hr::kHcnRequestUnsupported));
  EXPECT_EQ(countNetworks(), 0u) << "a gated request must not reach the service";
  restart({9, 2, {}});
  auto net = mustNetwork(natNetwork("gated", "172.30.6.0/24", "172.30.6.1"));
  auto ep = mustEndpoint(*net.id);
  EXPECT_THAT(run(hcn_->createLoadBalancer(dsrLb(*ep.id))), StatusIs(Code::kUnimplemented, "direct server return"));
  restart({9, 3, {}});
  ep = mustEndpoint(*net.id);  // endpoints do not survive a restart
  EXPECT_THAT(run(hcn_->createLoadBalancer(dsrLb(*ep.id))), IsOk());
  auto v6 = natNetwork("v6", "fd00:1::/64", "fd00:1::1");
  v6.ipams[0].subnets[0].routes[0].destinationPrefix = "::/0";
  EXPECT_THAT(run(hcn_->createNetwork(v6)), StatusIs(Code::kUnimplemented, "IPv6 dual stack"));
  HostComputeLoadBalancer affinity;
  affinity.hostComputeEndpoints = {*ep.id};
  affinity.portMappings.push_back({6, 80, 8001, 1, {}, {}});
  EXPECT_THAT(run(hcn_->createLoadBalancer(affinity)), StatusIs(Code::kUnimplemented, "session affinity"));
  HostComputeEndpoint tier;
  tier.policies.push_back(policy("TierAcl", R"({"Action":"Allow","Direction":"In"})"));
  EXPECT_THAT(run(hcn_->createEndpoint(*net.id, tier)), StatusIs(Code::kUnimplemented, "TierAcl"));
  EXPECT_THAT(run(hcn_->modifyNetworkPolicies(*net.id, "Add", {policy("SetPolicy", R"({"Id":"s","Values":"10.0.0.1"})")})),
              StatusIs(Code::kUnimplemented, "SetPolicy"));
  restart({13, 0, {}});
  ep = mustEndpoint(*net.id);
  EXPECT_THAT(run(hcn_->createNetwork(v6)), IsOk());
  EXPECT_THAT(run(hcn_->createLoadBalancer(affinity)), StatusIs(Code::kNotFound));  // now allowed; the old endpoint is gone
  affinity.hostComputeEndpoints = {*ep.id};
  EXPECT_THAT(run(hcn_->createLoadBalancer(affinity)), IsOk());
  EXPECT_THAT(run(hcn_->modifyNetworkPolicies(*net.id, "Add", {policy("SetPolicy", R"({"Id":"s","Values":"10.0.0.1"})")})), IsOk());
  EXPECT_THAT(run(hcn_->createEndpoint(*net.id, tier)), StatusIs(Code::kUnimplemented, "needs 14.0"));
  EXPECT_THAT(run(hcn_->modifyNetworkPolicies(*net.id, "Add", {policy("NetworkACL", R"({})")})),
              StatusIs(Code::kUnimplemented, "needs 15.0"));
  auto lbs = run(hcn_->listLoadBalancers(Json()));
  ASSERT_THAT(lbs, IsOk());
  ASSERT_FALSE(lbs->empty());
  EXPECT_THAT(run(hcn_->updateLoadBalancer(*lbs->at(0).id, lbs->at(0))), StatusIs(Code::kUnimplemented, "needs 15.4"));
  restart({15, 4, {}});
  EXPECT_THAT(run(hcn_->createEndpoint(*net.id, tier)), IsOk());
  EXPECT_THAT(run(hcn_->modifyNetworkPolicies(*net.id, "Add", {policy("NetworkACL", R"({})")})), IsOk());
  EXPECT_EQ(run(hcn_->version())->major, 15u);
}

TEST_P(HnsConformanceTest, NetworksPersistAcrossRestart) {
  auto n1 = mustNetwork(natNetwork("keep-1", "172.30.7.0/24", "172.30.7.1"));
  auto n2 = mustNetwork(natNetwork("keep-2", "172.30.8.0/24", "172.30.8.1"));
  ASSERT_THAT(run(hcn_->modifyNetworkPolicies(*n1.id, "Add", {policy("NetAdapterName", R"({"NetworkAdapterName":"eth1"})")})), IsOk());
  auto ep = mustEndpoint(*n1.id);
  ASSERT_THAT(run(hcn_->deleteNetwork(*n2.id)), IsOk());
  restart({15, 4, {}});
  auto nets = run(hcn_->listNetworks(Json()));
  ASSERT_THAT(nets, IsOk());
  ASSERT_EQ(nets->size(), 1u);
  EXPECT_EQ(encode(nets->at(0)), encode(*run(hcn_->getNetwork(*n1.id))));
  EXPECT_EQ(nets->at(0).id, n1.id);
  ASSERT_EQ(nets->at(0).policies.size(), 1u);
  EXPECT_EQ(nets->at(0).policies[0].type, "NetAdapterName");
  // Endpoints are runtime state: gone, and their addresses free again.
  EXPECT_THAT(run(hcn_->getEndpoint(*ep.id)), HResultIs(hr::kElementNotFound));
  EXPECT_EQ(*mustEndpoint(*n1.id).ipConfigurations[0].ipAddress, *ep.ipConfigurations[0].ipAddress);
}

// A state file that cannot be read (a crash mid-write on another
// implementation, a disk error): the service starts empty and keeps the
// unreadable file aside instead of overwriting it.
TEST_P(HnsConformanceTest, UnreadableStateIsKeptAsideNotLost) {
  mustNetwork(natNetwork("before", "172.30.12.0/24", "172.30.12.1"));
  const std::string state = dir_ + "/hns.json";
  ASSERT_TRUE(std::filesystem::exists(state));
  hcn_.reset();
  backend_.reset();  // the service is down while the file is damaged
  { std::ofstream(state, std::ios::trunc) << "{\"Networks\": [ {\"ID\": tru"; }
  if (GetParam() == "daemon") {
    backend_ = std::make_unique<DaemonBackend>(*rt_, dir_);
  } else {
    backend_ = std::make_unique<InProcessBackend>(dir_);
  }
  hcn_ = std::make_unique<hns::HcnClient>(backend_->api());
  EXPECT_TRUE(run(hcn_->listNetworks(Json()))->empty());
  std::ifstream aside(state + ".corrupt");
  std::string kept((std::istreambuf_iterator<char>(aside)), {});
  EXPECT_EQ(kept, "{\"Networks\": [ {\"ID\": tru");
  // And it works on: a new network persists.
  auto n = mustNetwork(natNetwork("after", "172.30.13.0/24", "172.30.13.1"));
  restart({15, 4, {}});
  EXPECT_EQ(run(hcn_->getNetwork(*n.id))->name, "after");
}

// The service goes away under a client (daemon only): calls fail with a
// clear Unavailable error instead of hanging or crashing; a new client of the
// restarted service sees the persisted networks.
TEST_P(HnsConformanceTest, ServiceGoingAwayFailsCallsCleanly) {
  if (GetParam() != "daemon") GTEST_SKIP() << "an in-process service cannot go away under its client";
  auto n = mustNetwork(natNetwork("survives", "172.30.14.0/24", "172.30.14.1"));
  auto* daemon = static_cast<DaemonBackend*>(backend_.get());
  hns::HnsApi& stale = backend_->api();
  daemon->stopDaemon();
  auto r = run(stale.query(HcnObject::kNetwork, *n.id, ""));
  EXPECT_THAT(r, StatusIs(Code::kUnavailable));
  EXPECT_THAT(r, HResultIs(hr::kHcsConnectionClosed));
  restart({15, 4, {}});
  EXPECT_EQ(run(hcn_->getNetwork(*n.id))->name, "survives");
}

// Hostile input: precise errors, and the service keeps everything it had.
TEST_P(HnsConformanceTest, BadInputGetsPreciseErrorsAndLosesNothing) {
  auto net = mustNetwork(natNetwork("survivor", "172.30.9.0/24", "172.30.9.1"));
  auto ep = mustEndpoint(*net.id);
  hns::HnsApi& api = backend_->api();
  auto createNet = [&](std::string doc) { return run(api.create(HcnObject::kNetwork, "", "", std::move(doc))); };
  EXPECT_THAT(createNet("{not json"), HResultIs(hr::kHcnInvalidJson));
  EXPECT_THAT(createNet(R"({"Type":"NAT","Ipams":"no"})"), StatusIs(Code::kInvalidArgument, "Ipams: want array"));
  EXPECT_THAT(createNet(R"({"Type":"Bridge"})"), HResultIs(hr::kHcnInvalidNetworkType));
  EXPECT_THAT(createNet(R"({"Name":"x"})"), HResultIs(hr::kHcnInvalidNetworkType));
  EXPECT_THAT(createNet(R"({"Type":"NAT","Ipams":[{"Subnets":[{"IpAddressPrefix":"10.0.0.1/24"}]}]})"),
              StatusIs(Code::kInvalidArgument, "host bits are set"));
  EXPECT_THAT(createNet(R"({"Type":"NAT","Ipams":[{"Subnets":[{"IpAddressPrefix":"10.0.0.0/40"}]}]})"),
              HResultIs(hr::kHcnInvalidPrefix));
  EXPECT_THAT(createNet(R"({"Type":"NAT","Ipams":[{"Subnets":[{"IpAddressPrefix":"10.0.0.0/24"},{"IpAddressPrefix":"10.0.0.128/25"}]}]})"),
              HResultIs(hr::kHcnInvalidSubnet));
  EXPECT_THAT(createNet(R"({"Type":"NAT","MacPool":{"Ranges":[{"StartMacAddress":"00-15-5D-00-00-09","EndMacAddress":"00-15-5D-00-00-01"}]}})"),
              StatusIs(Code::kInvalidArgument, "StartMacAddress is after EndMacAddress"));
  EXPECT_THAT(createNet(R"({"Type":"NAT","MacPool":{"Ranges":[{"StartMacAddress":"zz","EndMacAddress":"00-15-5D-00-00-01"}]}})"),
              StatusIs(Code::kInvalidArgument, "MacPool.Ranges[0].StartMacAddress"));
  EXPECT_THAT(createNet(R"({"Type":"NAT","Policies":[{"Type":"Teleport"}]})"), HResultIs(hr::kHcnInvalidPolicyType));
  EXPECT_THAT(createNet(R"({"Type":"NAT","Ipams":[{"Subnets":[{"IpAddressPrefix":"10.7.0.0/24","Policies":[{"Type":"VLAN","Settings":{"IsolationId":9999}}]}]}]})"),
              HResultIs(hr::kHcnInvalidPolicy));
  EXPECT_THAT(run(api.create(HcnObject::kNetwork, "not-a-guid", "", R"({"Type":"NAT"})")), StatusIs(Code::kInvalidArgument, "not a GUID"));
  EXPECT_THAT(run(api.create(HcnObject::kNetwork, *net.id, "", R"({"Type":"NAT"})")), HResultIs(hr::kHcnNetworkAlreadyExists));
  auto createEp = [&](std::string doc) { return run(api.create(HcnObject::kEndpoint, "", *net.id, std::move(doc))); };
  EXPECT_THAT(createEp(R"({"Policies":[{"Type":"ACL","Settings":{"Action":"Maybe","Direction":"In"}}]})"),
              StatusIs(Code::kInvalidArgument, "Policies[0].Settings.Action: \"Maybe\" is not one of Allow|Block"));
  EXPECT_THAT(createEp(R"({"Policies":[{"Type":"PortMapping","Settings":{"ExternalPort":99999}}]})"),
              HResultIs(hr::kHcnInvalidPolicy));
  EXPECT_THAT(createEp(R"({"Policies":[{"Type":"Warp","Settings":{}}]})"), HResultIs(hr::kHcnInvalidPolicyType));
  EXPECT_THAT(createEp(R"({"MacAddress":"nope"})"), StatusIs(Code::kInvalidArgument, "MacAddress"));
  EXPECT_THAT(run(api.create(HcnObject::kEndpoint, "", "5e7b1a3c-0000-4000-8000-000000000000", "{}")),
              HResultIs(hr::kElementNotFound));
  // Unknown ids, for every object type and verb.
  const std::string ghost = "0badc0de-0000-4000-8000-000000000001";
  for (HcnObject t : {HcnObject::kNetwork, HcnObject::kEndpoint, HcnObject::kNamespace, HcnObject::kLoadBalancer, HcnObject::kRoute}) {
    EXPECT_THAT(run(api.query(t, ghost, "")), HResultIs(hr::kElementNotFound)) << hns::objectName(t);
    EXPECT_THAT(run(api.remove(t, ghost)), HResultIs(hr::kElementNotFound)) << hns::objectName(t);
  }
  EXPECT_THAT(run(api.modify(HcnObject::kNetwork, *net.id, R"({"ResourceType":"Policy","RequestType":"Explode"})")),
              HResultIs(hr::kHcnRequestUnsupported));
  EXPECT_THAT(run(api.modify(HcnObject::kNetwork, *net.id, "[[[")), HResultIs(hr::kHcnInvalidJson));
  EXPECT_THAT(run(api.enumerate(HcnObject::kNetwork, R"({"Filter":"[1,2]"})")), HResultIs(hr::kHcnInvalidJson));
  EXPECT_THAT(run(api.hnsCall("PATCH", "/networks/", "")), HResultIs(hr::kHcnRequestUnsupported));
  EXPECT_THAT(run(api.hnsCall("GET", "/../../etc/passwd", "")), HResultIs(hr::kHcnRequestUnsupported));
  EXPECT_THAT(run(api.hnsCall("POST", "/endpoints/", R"({"VirtualNetwork":")" + *net.id + R"(","Policies":[{"Type":"ACL","Action":"Allow","Direction":"Up"}]})")),
              HResultIs(hr::kHcnInvalidPolicy));
  // Nothing was lost or half-created.
  auto nets = run(hcn_->listNetworks(Json()));
  ASSERT_THAT(nets, IsOk());
  ASSERT_EQ(nets->size(), 1u);
  EXPECT_EQ(nets->at(0).id, net.id);
  auto eps = run(hcn_->listEndpoints(Json()));
  ASSERT_THAT(eps, IsOk());
  ASSERT_EQ(eps->size(), 1u);
  EXPECT_EQ(encode(eps->at(0)), encode(*run(hcn_->getEndpoint(*ep.id))));
  // The next endpoint still gets the next address (no address leaked by the failures).
  EXPECT_EQ(*mustEndpoint(*net.id).ipConfigurations[0].ipAddress, "172.30.9.3");
}

// Generated hostile documents (mutations of valid ones: keys dropped, values
// of the wrong type, out-of-range numbers, garbage strings, truncation) for
// every object type and verb. Every call is answered (no crash, no hang), and
// what existed before is still there and unchanged afterwards.
TEST_P(HnsConformanceTest, GeneratedHostileDocumentsAreAnsweredAndLoseNothing) {
  auto net = mustNetwork(natNetwork("keeper", "172.30.11.0/24", "172.30.11.1"));
  auto ep = mustEndpoint(*net.id);
  std::string netBefore = encode(*run(hcn_->getNetwork(*net.id))).dump();
  std::string epBefore = encode(*run(hcn_->getEndpoint(*ep.id))).dump();
  hns::HnsApi& api = backend_->api();
  runtime::Random rnd(0x4e5301);  // fixed seed: a failure replays
  const Json seeds[] = {
      *parseJson(R"({"Name":"x","Type":"NAT","Ipams":[{"Type":"Static","Subnets":[{"IpAddressPrefix":"10.77.0.0/24","Routes":[{"NextHop":"10.77.0.1","DestinationPrefix":"0.0.0.0/0"}],"Policies":[{"Type":"VLAN","Settings":{"IsolationId":5}}]}]}],"MacPool":{"Ranges":[{"StartMacAddress":"00-15-5D-10-00-00","EndMacAddress":"00-15-5D-10-00-0F"}]},"Policies":[{"Type":"NetAdapterName","Settings":{"NetworkAdapterName":"e"}}]})"),
      *parseJson(R"({"IpConfigurations":[{"IpAddress":"172.30.11.9","PrefixLength":24}],"MacAddress":"00-15-5D-20-00-01","Policies":[{"Type":"PortMapping","Settings":{"Protocol":6,"InternalPort":1,"ExternalPort":2}},{"Type":"ACL","Settings":{"Action":"Allow","Direction":"In"}}]})"),
      *parseJson(R"({"Type":"Host"})"),
      *parseJson(R"({"HostComputeEndpoints":[],"FrontendVIPs":["10.1.1.1"],"PortMappings":[{"Protocol":6,"InternalPort":80,"ExternalPort":81}]})"),
      *parseJson(R"({"ResourceType":"Policy","RequestType":"Add","Settings":{"Policies":[{"Type":"QOS","Settings":{"MaximumOutgoingBandwidthInBytes":1}}]}})"),
  };
  const Json junk[] = {Json(), Json(true), Json(-1), Json(1e300), Json("\xff\xfe"), Json::array({1, "a"}), Json::object(),
                       Json(std::string(5000, 'A')), Json(18446744073709551615ULL)};
  std::function<void(Json&, int)> mutate = [&](Json& j, int depth) {
    if (j.is_object() && !j.empty() && depth < 6) {
      auto it = j.begin();
      std::advance(it, static_cast<long>(rnd.uniform(j.size())));
      switch (rnd.uniform(3)) {
        case 0: j.erase(it); return;
        case 1: it.value() = junk[rnd.uniform(std::size(junk))]; return;
        default: mutate(it.value(), depth + 1); return;
      }
    }
    if (j.is_array() && !j.empty() && depth < 6) {
      mutate(j[rnd.uniform(j.size())], depth + 1);
      return;
    }
    j = junk[rnd.uniform(std::size(junk))];
  };
  int answered = 0;
  for (int i = 0; i < 400; ++i) {
    Json doc = seeds[rnd.uniform(std::size(seeds))];
    for (uint64_t k = rnd.between(1, 3); k > 0; --k) mutate(doc, 0);
    std::string text = doc.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (rnd.chance(0.1)) text = text.substr(0, rnd.uniform(text.size() + 1));  // truncated
    auto type = static_cast<HcnObject>(rnd.uniform(5));
    switch (rnd.uniform(4)) {
      case 0: (void)run(api.create(type, "", rnd.chance(0.5) ? *net.id : std::string("junk"), text)); break;
      case 1: (void)run(api.modify(type, rnd.chance(0.5) ? *ep.id : *net.id, text)); break;
      case 2: (void)run(api.enumerate(type, text)); break;
      default: (void)run(api.hnsCall(rnd.chance(0.5) ? "POST" : "GET", rnd.chance(0.5) ? "/networks/" : "/endpoints/" + text.substr(0, 8), text));
    }
    ++answered;
  }
  EXPECT_EQ(answered, 400);
  // Still serving, and the objects that were there are unchanged.
  EXPECT_EQ(encode(*run(hcn_->getNetwork(*net.id))).dump(), netBefore);
  auto epAfter = run(hcn_->getEndpoint(*ep.id));
  ASSERT_THAT(epAfter, IsOk());
  // (Modify requests that were valid may have added policies; the identity,
  // address and MAC of the endpoint must be what they were.)
  Json a = encode(*epAfter), b = *parseJson(epBefore);
  a.erase("Policies");
  b.erase("Policies");
  EXPECT_EQ(a, b);
  EXPECT_THAT(run(hcn_->createEndpoint(*net.id, {})), IsOk());
}

INSTANTIATE_TEST_SUITE_P(Backends, HnsConformanceTest, ::testing::Values("inprocess", "daemon"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hcsshim::functional
