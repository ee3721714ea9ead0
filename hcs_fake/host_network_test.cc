// The host side of NAT networks: the gateway address, the port forwards as
// nftables rules, the route check that keeps the host's own traffic, and
// what HostBridges runs (against stand-in `ip` and `nft` that record their
// arguments; the real ones are exercised by the CRI suite's hostPort case).
#include "hcs_fake/host_network.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::hcs_fake {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using hcsshim::testing::IsOk;

schema::HostComputeNetwork network(const std::string& type) {
  schema::HostComputeNetwork n = schema::HostComputeNetwork{};
  n.id = "2b1f3c1e-0000-4000-8000-000000000001";
  n.type = type;
  schema::HcnSubnet other;
  other.ipAddressPrefix = "10.1.0.0/16";
  other.routes.push_back({"10.1.0.254", "0.0.0.0/0", {}, {}});
  schema::HcnSubnet sub;
  sub.ipAddressPrefix = "10.98.0.0/24";
  sub.routes.push_back({"10.98.0.1", "0.0.0.0/0", {}, {}});
  n.ipams.push_back({"Static", {other, sub}, {}});
  return n;
}

schema::HostComputeEndpoint endpoint(std::vector<std::string> mappings) {
  schema::HostComputeEndpoint ep;
  ep.hostComputeNetwork = "2b1f3c1e-0000-4000-8000-000000000001";
  ep.macAddress = "00-15-5D-01-02-03";
  ep.ipConfigurations.push_back({"fd00::5", 64, {}});
  ep.ipConfigurations.push_back({"10.98.0.5", 24, {}});
  for (auto& m : mappings) ep.policies.push_back(schema::HcnPolicy{"PortMapping", *parseJson(m), {}});
  ep.policies.push_back(schema::HcnPolicy{"ACL", *parseJson(R"({"Action":"Allow"})"), {}});
  return ep;
}

TEST(EndpointNicTest, ANatEndpointGetsTheHostAddressOfItsSubnetAndItsForwards) {
  auto nic = endpointNic(endpoint({R"({"Protocol":6,"InternalPort":8083,"ExternalPort":18084})",
                                   R"({"Protocol":17,"ExternalPort":53,"VIP":"192.0.2.9"})"}),
                         network("NAT"));
  EXPECT_EQ(nic.networkId, "2b1f3c1e-0000-4000-8000-000000000001");
  EXPECT_EQ(nic.macAddress, "00-15-5D-01-02-03");
  EXPECT_EQ(nic.ipAddress, "10.98.0.5") << "the first IPv4 address";
  EXPECT_EQ(nic.hostAddress, "10.98.0.1/24") << "the gateway of the subnet that holds the endpoint";
  ASSERT_EQ(nic.forwards.size(), 2u);
  EXPECT_EQ(nic.forwards[0], (PortForward{6, 18084, 8083, ""}));
  EXPECT_EQ(nic.forwards[1], (PortForward{17, 53, 53, "192.0.2.9"})) << "no InternalPort: the external one";
}

TEST(EndpointNicTest, OnlyNatNetworksForwardAndUnusableMappingsAreLeftOut) {
  auto bridged = endpointNic(endpoint({R"({"ExternalPort":80})"}), network("L2Bridge"));
  EXPECT_EQ(bridged.hostAddress, "");
  EXPECT_TRUE(bridged.forwards.empty());
  auto nic = endpointNic(endpoint({R"({"ExternalPort":80,"VIP":"fd00::1"})", R"({"InternalPort":80})", R"("junk")",
                                   R"({"ExternalPort":81})"}),
                         network("nat"));
  ASSERT_EQ(nic.forwards.size(), 1u) << "IPv6 VIP, no external port, settings not an object: left out";
  EXPECT_EQ(nic.forwards[0], (PortForward{6, 81, 81, ""}));
  schema::HostComputeNetwork noGateway = network("NAT");
  for (auto& s : noGateway.ipams[0].subnets) s.routes.clear();
  auto lost = endpointNic(endpoint({R"({"ExternalPort":81})"}), noGateway);
  EXPECT_EQ(lost.hostAddress, "");
  EXPECT_TRUE(lost.forwards.empty()) << "without a host address nothing can be forwarded";
}

TEST(NatRulesetTest, ForwardsEveryHostAddressButLoopbackOrTheVipOnly) {
  std::string rules = natRuleset("hcs-fake-7", {{"10.98.0.5", {6, 18084, 8083, ""}}, {"10.98.0.6", {17, 53, 5353, "192.0.2.9"}}});
  EXPECT_EQ(rules.rfind("table ip hcs-fake-7 {}\ndelete table ip hcs-fake-7\n", 0), 0u) << "replaced whole, in one transaction";
  EXPECT_THAT(rules, HasSubstr("type nat hook prerouting priority dstnat;"));
  EXPECT_THAT(rules, HasSubstr("fib daddr type local tcp dport 18084 dnat to 10.98.0.5:8083\n"));
  EXPECT_THAT(rules, HasSubstr("ip daddr != 127.0.0.0/8 fib daddr type local tcp dport 18084 dnat to 10.98.0.5:8083\n"));
  EXPECT_THAT(rules, HasSubstr("ip daddr 192.0.2.9 udp dport 53 dnat to 10.98.0.6:5353\n"));
  EXPECT_EQ(natRuleset("t", {}), "table ip t {}\ndelete table ip t\n") << "no forwards: the table goes";
}

TEST(RouteCoversTest, AHostRouteInOrAroundTheSubnetKeepsTheAddressOff) {
  const std::string routes =
      "default via 192.0.2.1 dev eth0\n"
      "192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2\n"
      "10.98.0.0/24 dev hcsbr2b1f3c1e proto kernel scope link src 10.98.0.1\n"
      "unreachable 172.16.0.0/12\n"
      "203.0.113.7 dev tun0\n";
  EXPECT_TRUE(routeCovers(routes, "192.0.2.1/24", "hcsbr2b1f3c1e")) << "the host's own subnet";
  EXPECT_TRUE(routeCovers(routes, "192.0.0.1/16", "hcsbr2b1f3c1e")) << "a route inside ours";
  EXPECT_TRUE(routeCovers(routes, "172.30.0.1/24", "hcsbr2b1f3c1e")) << "inside an unreachable route";
  EXPECT_TRUE(routeCovers(routes, "203.0.113.1/24", "hcsbr2b1f3c1e")) << "a host route";
  EXPECT_FALSE(routeCovers(routes, "10.98.0.1/24", "hcsbr2b1f3c1e")) << "the bridge's own route";
  EXPECT_FALSE(routeCovers(routes, "10.97.0.1/24", "hcsbr2b1f3c1e")) << "the default route does not count";
  EXPECT_FALSE(routeCovers(routes, "not-an-address", "x"));
}

// HostBridges against recording stand-ins of `ip` and `nft`.
class HostBridgesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") + "/host_network_test";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log_ = dir_ + "/calls";
    tool("ip", "case \"$*\" in *'route show'*) printf '%s' \"$ROUTES\";; esac");
    tool("nft", "[ -e " + dir_ + "/nft-fails ] && { echo 'Error: no nat' >&2; exit 1; }");
    auto rt = runtime::RealRuntime::create("host_network_test");
    ASSERT_THAT(rt, IsOk());
    rt_ = std::move(*rt);
  }
  void tool(const std::string& name, const std::string& extra) {
    std::ofstream f(dir_ + "/" + name);
    f << "#!/bin/sh\n{ printf '" << name << "'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; } >> " << log_ << "\n"
      << extra << "\nexit 0\n";
    f.close();
    std::filesystem::permissions(dir_ + "/" + name, std::filesystem::perms::owner_all);
  }
  std::string calls() {
    std::ifstream f(log_);
    std::stringstream s;
    s << f.rdbuf();
    std::filesystem::remove(log_);
    return s.str();
  }
  template <typename T>
  T run(runtime::Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }
  HostBridges bridges() { return HostBridges(*rt_, dir_ + "/ip", dir_ + "/nft", "hcs-fake-9"); }

  std::string dir_, log_;
  std::unique_ptr<runtime::RealRuntime> rt_;
};

TEST_F(HostBridgesTest, ANatNicGivesTheBridgeTheGatewayAndForwardsItsPortsUntilUnplugged) {
  setenv("ROUTES", "default via 192.0.2.1 dev eth0\n", 1);
  HostBridges b = bridges();
  auto nic = endpointNic(endpoint({R"({"InternalPort":8083,"ExternalPort":18084})"}), network("NAT"));
  ASSERT_THAT(run(b.plug("hcsh1", nic)), IsOk());
  std::string first = calls();
  EXPECT_THAT(first, HasSubstr("ip [link] [add] [hcsbr2b1f3c1e] [type] [bridge]"));
  EXPECT_THAT(first, HasSubstr("ip [addr] [add] [10.98.0.1/24] [dev] [hcsbr2b1f3c1e]"));
  EXPECT_THAT(first, HasSubstr("tcp dport 18084 dnat to 10.98.0.5:8083"));
  // A second endpoint on the network: one more rule, the bridge as it was.
  schema::HostComputeEndpoint two = endpoint({R"({"InternalPort":80,"ExternalPort":18085})"});
  two.ipConfigurations = {{"10.98.0.6", 24, {}}};
  ASSERT_THAT(run(b.plug("hcsh2", endpointNic(two, network("NAT")))), IsOk());
  std::string second = calls();
  EXPECT_THAT(second, Not(HasSubstr("[bridge]")));
  EXPECT_THAT(second, HasSubstr("dport 18084 dnat to 10.98.0.5:8083"));
  EXPECT_THAT(second, HasSubstr("dport 18085 dnat to 10.98.0.6:80"));
  ASSERT_THAT(run(b.unplug("hcsh1", bridgeFor(nic.networkId), true)), IsOk());
  std::string third = calls();
  EXPECT_THAT(third, Not(HasSubstr("18084"))) << "the unplugged endpoint's forward is gone";
  EXPECT_THAT(third, HasSubstr("dport 18085"));
  ASSERT_THAT(run(b.unplug("hcsh2", bridgeFor(nic.networkId), true)), IsOk());
  std::string last = calls();
  EXPECT_THAT(last, HasSubstr("nft [table ip hcs-fake-9 {}\ndelete table ip hcs-fake-9\n]")) << "the last forward takes the table";
  EXPECT_THAT(last, HasSubstr("ip [link] [del] [hcsbr2b1f3c1e]"));
}

TEST_F(HostBridgesTest, AHostRouteOverTheSubnetKeepsTheAddressOffTheBridge) {
  setenv("ROUTES", "10.98.0.0/16 dev eth1 proto kernel scope link\n", 1);
  HostBridges b = bridges();
  ASSERT_THAT(run(b.plug("hcsh1", endpointNic(endpoint({}), network("NAT")))), IsOk());
  EXPECT_THAT(calls(), Not(HasSubstr("[addr] [add]")));
}

TEST_F(HostBridgesTest, AForwardThatCannotBeMadeFailsThePlugAndLeavesNoBridge) {
  setenv("ROUTES", "", 1);
  std::ofstream(dir_ + "/nft-fails") << "";
  HostBridges b = bridges();
  auto nic = endpointNic(endpoint({R"({"ExternalPort":18084})"}), network("NAT"));
  Status st = run(b.plug("hcsh1", nic));
  EXPECT_THAT(st, Not(IsOk()));
  EXPECT_THAT(st.message(), HasSubstr("port mappings of 10.98.0.5 (nft)"));
  EXPECT_THAT(calls(), HasSubstr("ip [link] [del] [hcsbr2b1f3c1e]"));
  std::filesystem::remove(dir_ + "/nft-fails");
  // Nothing of the failed NIC's is remembered: the next plug forwards only its own.
  schema::HostComputeEndpoint two = endpoint({R"({"ExternalPort":18085})"});
  ASSERT_THAT(run(b.plug("hcsh2", endpointNic(two, network("NAT")))), IsOk());
  std::string next = calls();
  EXPECT_THAT(next, HasSubstr("dport 18085"));
  EXPECT_THAT(next, Not(HasSubstr("dport 18084")));
}

}  // namespace
}  // namespace hcsshim::hcs_fake
