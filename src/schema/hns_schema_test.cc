#include "src/schema/hns.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim::schema {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;

Json j(const char* text) { return *parseJson(text); }

// Every v1 policy type: the document hcsshim marshals survives validation
// unchanged (same keys, same values).
TEST(HnsSchemaTest, EveryV1PolicyTypeRoundTripsExactly) {
  const char* docs[] = {
      R"({"Type":"NAT","Protocol":"TCP","InternalPort":80,"ExternalPort":8080})",
      R"({"Type":"ACL","Id":"a1","Protocols":"6","Action":"Block","Direction":"In","LocalAddresses":"10.0.0.0/24",)"
      R"("RemoteAddresses":"192.168.1.5","LocalPorts":"80","RemotePorts":"1000-2000","RuleType":"Switch","Priority":200,)"
      R"("ServiceName":"svc"})",
      R"({"Type":"PA","PA":"10.1.1.1"})",
      R"({"Type":"VLAN","VLAN":100})",
      R"({"Type":"VSID","VSID":5000})",
      R"({"Type":"VNET"})",
      R"({"Type":"L2Driver"})",
      R"({"Type":"Isolation","VLAN":7,"VSID":4097,"InDefaultIsolation":true})",
      R"({"Type":"QOS","MaximumOutgoingBandwidthInBytes":1000000})",
      R"({"Type":"OutBoundNAT","VIP":"10.0.0.9","ExceptionList":["10.0.0.0/8"],"Destinations":["1.2.3.4"]})",
      R"({"Type":"ELB","Protocol":6,"InternalPort":80,"ExternalPort":8080,"SourceVIP":"10.0.0.2","VIPs":["10.0.0.100"],"ILB":true})",
      R"({"Type":"ROUTE","DestinationPrefix":"10.2.0.0/16","NextHop":"10.0.0.1","NeedEncap":true})",
      R"({"Type":"PROXY","IP":"10.0.0.3","Port":"3128","ExceptionList":["localhost"],"Destination":"x","OutboundNat":true})",
  };
  for (const char* d : docs) {
    auto out = validateV1Policy(j(d), "Policies[0]");
    ASSERT_THAT(out, IsOk()) << d;
    EXPECT_EQ(*out, j(d)) << d;
  }
  // The ELB's ports are always sent (no omitempty in hcsshim's LBPolicy).
  EXPECT_EQ(*validateV1Policy(j(R"({"Type":"ELB"})"), "p"), j(R"({"Type":"ELB","InternalPort":0,"ExternalPort":0})"));
  // "VNet" is normalised to the wire spelling.
  EXPECT_EQ(*validateV1Policy(j(R"({"Type":"VNet"})"), "p"), j(R"({"Type":"VNET"})"));
}

TEST(HnsSchemaTest, BadV1PoliciesNameTheField) {
  EXPECT_THAT(validateV1Policy(j(R"({"Type":"ACL","Action":"Maybe","Direction":"In"})"), "Policies[2]"),
              StatusIs(Code::kInvalidArgument, "Policies[2].Action: \"Maybe\" is not one of Allow|Block"));
  EXPECT_THAT(validateV1Policy(j(R"({"Type":"ACL","Action":"Allow","Direction":"Sideways"})"), "p"),
              StatusIs(Code::kInvalidArgument, "p.Direction: \"Sideways\" is not one of In|Out"));
  EXPECT_THAT(validateV1Policy(j(R"({"Type":"ACL","Action":"Allow","Direction":"In","RuleType":"Router"})"), "p"),
              StatusIs(Code::kInvalidArgument, "p.RuleType: \"Router\" is not one of Host|Switch"));
  EXPECT_THAT(validateV1Policy(j(R"({"Type":"NAT","InternalPort":70000})"), "p"),
              StatusIs(Code::kInvalidArgument, "p.InternalPort: 70000 is out of range"));
  EXPECT_THAT(validateV1Policy(j(R"({"Type":"VLAN","VLAN":5000})"), "p"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(validateV1Policy(j(R"({"Type":"ROUTE","DestinationPrefix":"10.0.0.1/24"})"), "p"),
              StatusIs(Code::kInvalidArgument, "p.DestinationPrefix: \"10.0.0.1/24\" is not a prefix"));
  EXPECT_THAT(validateV1Policy(j(R"({"Type":"Teleport"})"), "p"),
              StatusIs(Code::kInvalidArgument, "p.Type: unknown policy type \"Teleport\""));
  EXPECT_THAT(validateV1Policy(j(R"([1])"), "p"), StatusIs(Code::kInvalidArgument));
}

TEST(HnsSchemaTest, HcnDocumentsUseTheWireNames) {
  const char* text =
      R"({"ID":"n1","Name":"nat","Type":"NAT","Policies":[{"Type":"NetAdapterName","Settings":{"NetworkAdapterName":"eth0"}}],)"
      R"("MacPool":{"Ranges":[{"StartMacAddress":"00-15-5D-00-00-00","EndMacAddress":"00-15-5D-00-00-FF"}]},)"
      R"("Dns":{"Suffix":"corp","ServerList":["10.0.0.53"]},)"
      R"("Ipams":[{"Type":"Static","Subnets":[{"IpAddressPrefix":"10.0.0.0/24","Routes":[{"NextHop":"10.0.0.1",)"
      R"("DestinationPrefix":"0.0.0.0/0","Metric":5}],"Policies":[{"Type":"VLAN","Settings":{"IsolationId":7}}]}]}],)"
      R"("Flags":0,"SchemaVersion":{"Major":2,"Minor":0}})";
  auto n = decode<HostComputeNetwork>(std::string_view(text));
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->ipams[0].subnets[0].routes[0].metric, 5);
  EXPECT_EQ(encode(*n), j(text));
  auto lb = decode<HostComputeLoadBalancer>(std::string_view(
      R"({"HostComputeEndpoints":["e1"],"SourceVIP":"10.0.0.2","FrontendVIPs":["1.1.1.1"],)"
      R"("PortMappings":[{"Protocol":6,"InternalPort":80,"ExternalPort":8080,"Flags":1}],"Flags":1})"));
  ASSERT_THAT(lb, IsOk());
  EXPECT_EQ(lb->portMappings[0].externalPort, 8080);
  EXPECT_THAT(decode<HostComputeEndpoint>(std::string_view(R"({"IpConfigurations":[{"PrefixLength":300}]})")),
              StatusIs(Code::kInvalidArgument, "IpConfigurations[0].PrefixLength: 300 is out of range"));
}

TEST(HnsSchemaTest, AddressesPrefixesMacs) {
  EXPECT_EQ(parseIp("10.1.2.3")->toString(), "10.1.2.3");
  EXPECT_TRUE(parseIp("fd00::1")->v6);
  EXPECT_THAT(parseIp("10.1.2"), StatusIs(Code::kInvalidArgument));
  auto p = parsePrefix("10.0.0.0/24");
  ASSERT_THAT(p, IsOk());
  EXPECT_TRUE(p->contains(*parseIp("10.0.0.77")));
  EXPECT_FALSE(p->contains(*parseIp("10.0.1.1")));
  EXPECT_THAT(parsePrefix("10.0.0.0/33"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(parsePrefix("10.0.0.0"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(parsePrefix("10.0.0.0/x"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(parsePrefix("fd00::/64"), IsOk());
  EXPECT_EQ(*parseMac("00-15-5d-01-02-0a"), 0x00155d01020aULL);
  EXPECT_EQ(*parseMac("00:15:5D:01:02:0A"), 0x00155d01020aULL);
  EXPECT_EQ(formatMac(0x00155d01020aULL), "00-15-5D-01-02-0A");
  EXPECT_THAT(parseMac("00-15-5D-01-02"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(parseMac("00-15-5D-01-02-0G"), StatusIs(Code::kInvalidArgument));
}

}  // namespace
}  // namespace hcsshim::schema
