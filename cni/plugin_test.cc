// hcn-nat against the fake HNS: ADD/CHECK/DEL as the CNI spec says, its
// results and errors in CNI's JSON, and nothing left behind - after DEL,
// and after an ADD that failed half way.
#include "cni/plugin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hcs_fake/hns.h"
#include "sim/run.h"
#include "sim/world.h"
#include "src/common/json.h"
#include "src/hns/hcn.h"

namespace hcsshim::cni {
namespace {

using ::testing::HasSubstr;

const char* kNetns = "/var/run/netns/cni-7d0b3c1e-2f4a-4b5c-9d6e-0a1b2c3d4e5f";

std::string config(const std::string& version = "1.0.0") {
  return R"({"cniVersion": ")" + version +
         R"(", "name": "pods", "type": "hcn-nat", "ipam": {"subnet": "10.98.0.0/24", "gateway": "10.98.0.1"},)"
         R"( "dns": {"nameservers": ["10.98.0.10"], "search": ["cluster.local"]}})";
}

// Fails the attach of an endpoint to a namespace (a Modify of the namespace).
class FailingAttach final : public hns::HnsApi {
 public:
  explicit FailingAttach(hns::HnsApi& inner) : inner_(inner) {}
  runtime::Task<StatusOr<std::string>> enumerate(hns::HcnObject t, std::string q) override { return inner_.enumerate(t, q); }
  runtime::Task<StatusOr<std::string>> create(hns::HcnObject t, std::string id, std::string n, std::string s) override {
    return inner_.create(t, id, n, s);
  }
  runtime::Task<StatusOr<std::string>> query(hns::HcnObject t, std::string id, std::string q) override {
    return inner_.query(t, id, q);
  }
  runtime::Task<Status> modify(hns::HcnObject t, std::string id, std::string s) override {
    if (t == hns::HcnObject::kNamespace) return failed();
    return inner_.modify(t, id, s);
  }
  runtime::Task<Status> remove(hns::HcnObject t, std::string id) override { return inner_.remove(t, id); }
  runtime::Task<StatusOr<std::string>> hnsCall(std::string m, std::string p, std::string r) override {
    return inner_.hnsCall(m, p, r);
  }

 private:
  static runtime::Task<Status> failed() { co_return InternalError("injected: the attach failed"); }
  hns::HnsApi& inner_;
};

class PluginTest : public ::testing::Test {
 protected:
  Response call(const std::string& command, const std::string& container, const std::string& cfg,
                hns::HnsApi* api = nullptr, const char* netns = kNetns) {
    Request r;
    r.env["CNI_COMMAND"] = command;
    r.env["CNI_CONTAINERID"] = container;
    if (netns) r.env["CNI_NETNS"] = netns;
    r.env["CNI_IFNAME"] = "eth0";
    r.env["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web";
    r.env["CNI_PATH"] = "/opt/cni/bin";
    r.config = cfg;
    return sim::run(world_, run(r, api ? *api : api_));
  }
  Json json(const Response& r) {
    auto j = parseJson(r.stdout);
    EXPECT_TRUE(j.ok()) << r.stdout;
    return j.ok() ? *j : Json();
  }
  size_t count(hns::HcnObject type) {
    auto list = fake_.enumerate(type, "{}");
    auto j = parseJson(list.ok() ? *list : std::string("[]"));
    return j.ok() ? j->size() : 999;
  }
  // errorCode: the code of CNI's error object (and the exit status is 1).
  int errorCode(const Response& r) {
    EXPECT_EQ(r.exitCode, 1) << r.stdout;
    Json j = json(r);
    EXPECT_TRUE(j.contains("msg")) << r.stdout;
    return j.value("code", -1);
  }

  sim::World world_{7};
  hcs_fake::FakeHns fake_{hcs_fake::FakeHnsOptions{}};
  hcs_fake::InProcessHns api_{fake_};
};

TEST_F(PluginTest, AddGivesThePodAnEndpointInItsNamespace) {
  Response r = call("ADD", "c1", config());
  ASSERT_EQ(r.exitCode, 0) << r.stdout;
  Json res = json(r);
  EXPECT_EQ(res["cniVersion"], "1.0.0");
  ASSERT_EQ(res["interfaces"].size(), 1u);
  EXPECT_EQ(res["interfaces"][0]["name"], "eth0");
  EXPECT_EQ(res["interfaces"][0]["sandbox"], kNetns);
  EXPECT_THAT(res["interfaces"][0]["mac"].get<std::string>(), ::testing::MatchesRegex("00:15:5d(:[0-9a-f]{2}){3}"));
  ASSERT_EQ(res["ips"].size(), 1u);
  EXPECT_THAT(res["ips"][0]["address"].get<std::string>(), ::testing::StartsWith("10.98.0."));
  EXPECT_THAT(res["ips"][0]["address"].get<std::string>(), ::testing::EndsWith("/24"));
  EXPECT_EQ(res["ips"][0]["gateway"], "10.98.0.1");
  EXPECT_FALSE(res["ips"][0].contains("version")) << "1.0.0 results have no version field";
  EXPECT_EQ(res["dns"]["nameservers"][0], "10.98.0.10");
  // In HNS: the endpoint, named after the container, in the netns's namespace.
  hns::HcnClient hcn(api_);
  Json byName = {{"Name", "c1_eth0"}};
  auto eps = sim::run(world_, hcn.listEndpoints(byName));
  ASSERT_TRUE(eps.ok());
  ASSERT_EQ(eps->size(), 1u);
  EXPECT_EQ((*eps)[0].hostComputeNamespace.value_or(""), hns::namespaceForNetns(kNetns));
  EXPECT_EQ((*eps)[0].ipConfigurations[0].ipAddress.value_or("") + "/24", res["ips"][0]["address"]);
  EXPECT_EQ(call("CHECK", "c1", config()).exitCode, 0);
  // ADD again: the same endpoint, not a second one.
  Response again = call("ADD", "c1", config());
  ASSERT_EQ(again.exitCode, 0) << again.stdout;
  EXPECT_EQ(json(again)["ips"][0]["address"], res["ips"][0]["address"]);
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 1u);
  // DEL: nothing left; DEL again is no error; CHECK then names the container.
  Response del = call("DEL", "c1", config());
  EXPECT_EQ(del.exitCode, 0) << del.stdout;
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 0u);
  EXPECT_EQ(count(hns::HcnObject::kNamespace), 0u);
  EXPECT_EQ(call("DEL", "c1", config()).exitCode, 0);
  EXPECT_EQ(call("DEL", "c1", config(), nullptr, nullptr).exitCode, 0) << "DEL without a netns (it is gone)";
  Response check = call("CHECK", "c1", config());
  EXPECT_EQ(errorCode(check), kUnknownContainer);
  EXPECT_THAT(json(check)["msg"].get<std::string>(), HasSubstr("c1"));
}

TEST_F(PluginTest, OlderResultVersionsAndTwoPods) {
  Response a = call("ADD", "a", config("0.4.0"));
  ASSERT_EQ(a.exitCode, 0) << a.stdout;
  EXPECT_EQ(json(a)["cniVersion"], "0.4.0");
  EXPECT_EQ(json(a)["ips"][0]["version"], "4");
  Response b = call("ADD", "b", config("0.3.1"), nullptr, "/var/run/netns/cni-other");
  ASSERT_EQ(b.exitCode, 0) << b.stdout;
  EXPECT_NE(json(a)["ips"][0]["address"], json(b)["ips"][0]["address"]) << "each pod its own address";
  EXPECT_EQ(count(hns::HcnObject::kNamespace), 2u);
  EXPECT_EQ(call("DEL", "a", config("0.4.0")).exitCode, 0);
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 1u) << "the other pod's endpoint stays";
  EXPECT_EQ(call("DEL", "b", config("0.3.1"), nullptr, "/var/run/netns/cni-other").exitCode, 0);
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 0u);
  EXPECT_EQ(count(hns::HcnObject::kNamespace), 0u);
}

// CNI's portMappings capability (keys in any case: containerd's go-cni
// sends HostPort, ContainerPort): each mapping a PortMapping policy of the
// endpoint; the fake HNS refuses a host port another endpoint has, and the
// refused ADD leaves nothing.
TEST_F(PluginTest, PortMappingsBecomeEndpointPolicies) {
  std::string withPorts = R"({"cniVersion": "1.0.0", "name": "pods", "type": "hcn-nat",)"
                          R"( "ipam": {"subnet": "10.98.0.0/24", "gateway": "10.98.0.1"},)"
                          R"( "runtimeConfig": {"portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"},)"
                          R"( {"HostPort": 15353, "ContainerPort": 53, "Protocol": "udp", "HostIP": ""}]}})";
  Response r = call("ADD", "web", withPorts);
  ASSERT_EQ(r.exitCode, 0) << r.stdout;
  hns::HcnClient hcn(api_);
  Json byName = {{"Name", "web_eth0"}};
  auto eps = sim::run(world_, hcn.listEndpoints(byName));
  ASSERT_TRUE(eps.ok());
  ASSERT_EQ(eps->size(), 1u);
  std::vector<std::string> seen;
  for (const auto& p : (*eps)[0].policies) {
    if (p.type == "PortMapping") seen.push_back(jsonText(p.settings));
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_THAT(seen[0], HasSubstr(R"("ExternalPort":18080)"));
  EXPECT_THAT(seen[0], HasSubstr(R"("InternalPort":80)"));
  EXPECT_THAT(seen[0], HasSubstr(R"("Protocol":6)"));
  EXPECT_THAT(seen[1], HasSubstr(R"("Protocol":17)"));
  // The same host port for another pod: HNS's conflict, nothing left of the attempt.
  Response clash = call("ADD", "other", withPorts, nullptr, "/var/run/netns/cni-other");
  EXPECT_EQ(errorCode(clash), kHnsError);
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 1u);
  EXPECT_EQ(count(hns::HcnObject::kNamespace), 1u);
  std::string bad = R"({"cniVersion": "1.0.0", "name": "pods", "runtimeConfig": {"portMappings": [{"hostPort": 0}]}})";
  EXPECT_EQ(errorCode(call("ADD", "x", bad)), kInvalidConfig);
  std::string sctp = R"({"cniVersion": "1.0.0", "name": "pods", "runtimeConfig": {"portMappings": [)"
                     R"({"hostPort": 1, "containerPort": 2, "protocol": "sctp"}]}})";
  EXPECT_EQ(errorCode(call("ADD", "x", sctp)), kInvalidConfig);
  EXPECT_EQ(call("DEL", "web", withPorts).exitCode, 0);
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 0u);
}

TEST_F(PluginTest, VersionNeedsNothingElse) {
  Request r;
  r.env["CNI_COMMAND"] = "VERSION";
  Response v = sim::run(world_, run(r, api_));
  ASSERT_EQ(v.exitCode, 0);
  EXPECT_THAT(json(v)["supportedVersions"], ::testing::Contains("1.0.0"));
}

TEST_F(PluginTest, BadInputGetsCnisErrorObject) {
  EXPECT_EQ(errorCode(call("ADD", "c", "{not json")), kDecodeFailure);
  EXPECT_EQ(errorCode(call("ADD", "c", "[1, 2]")), kDecodeFailure);
  EXPECT_EQ(errorCode(call("ADD", "c", R"({"cniVersion": "1.0.0"})")), kInvalidConfig);
  EXPECT_EQ(errorCode(call("ADD", "c", R"({"cniVersion": "9.9.9", "name": "x"})")), kIncompatibleVersion);
  EXPECT_EQ(errorCode(call("ADD", "c", R"({"cniVersion": 1, "name": "x"})")), kInvalidConfig);
  EXPECT_EQ(errorCode(call("ADD", "c", R"({"cniVersion": "1.0.0", "name": "x", "ipam": "dhcp"})")), kInvalidConfig);
  EXPECT_EQ(errorCode(call("ADD", "c", R"({"cniVersion": "1.0.0", "name": "x", "dns": {"nameservers": [1]}})")),
            kInvalidConfig);
  EXPECT_EQ(errorCode(call("BOGUS", "c", config())), kInvalidEnvironment);
  EXPECT_EQ(errorCode(call("ADD", "", config())), kInvalidEnvironment);
  EXPECT_EQ(errorCode(call("ADD", "c", config(), nullptr, nullptr)), kInvalidEnvironment);
  EXPECT_EQ(errorCode(call("ADD", "../../etc", config())), kInvalidEnvironment);
  // A network that does not exist and cannot be made (no subnet): an HNS error naming it.
  Response none = call("ADD", "c", R"({"cniVersion": "1.0.0", "name": "nowhere"})");
  EXPECT_EQ(errorCode(none), kHnsError);
  EXPECT_THAT(json(none)["msg"].get<std::string>(), HasSubstr("nowhere"));
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 0u);
  EXPECT_EQ(count(hns::HcnObject::kNamespace), 0u);
}

TEST_F(PluginTest, AFailedAddLeavesNothingBehind) {
  FailingAttach failing(api_);
  Response r = call("ADD", "c1", config(), &failing);
  EXPECT_EQ(errorCode(r), kHnsError);
  EXPECT_THAT(json(r)["details"].get<std::string>(), HasSubstr("injected"));
  EXPECT_EQ(count(hns::HcnObject::kEndpoint), 0u) << "the endpoint it made is gone";
  EXPECT_EQ(count(hns::HcnObject::kNamespace), 0u) << "the namespace it made is gone";
  EXPECT_EQ(count(hns::HcnObject::kNetwork), 1u) << "the network stays (others use it)";
}

}  // namespace
}  // namespace hcsshim::cni
