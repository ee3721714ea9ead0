// The portable HNS/HCN suite: scenarios written only against hns::HnsApi
// (through HcnClient and HnsV1Client), built for Linux and Windows from
// this file like hcs_api_conformance_test.cc: the in-process fake HNS on
// Linux; computenetwork.dll and vmcompute.dll on Windows - the stand-ins
// under Wine, the real ones on a vendor's host (where the scenarios create
// NAT networks named hcsshim-cpp-conformance-* on 172.29.x.0/24 and delete
// them again).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "functional/hcs_api_suite.h"
#include "src/hns/hcn.h"
#include "src/hns/hns_v1.h"
#include "src/runtime/task.h"

namespace hcsshim::functional {
namespace {

using runtime::Task;
namespace hr = hresult;

class HnsApiConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    backend_ = openBackendForThisTest(error);
    ASSERT_TRUE(backend_) << error;
    if (!backend_->hns()) GTEST_SKIP() << "backend " << backend_->name() << " has no HNS";
    hcn_ = std::make_unique<hns::HcnClient>(*backend_->hns());
  }
  void TearDown() override {
    if (!hcn_) return;
    // Remove what a failed scenario left (endpoints first: they hold their networks).
    for (auto& e : endpoints_) (void)run(hcn_->deleteEndpoint(e));
    for (auto& n : networks_) (void)run(hcn_->deleteNetwork(n));
  }

  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(backend_->loop(), std::move(t));
  }
  std::string name(const std::string& suffix) {
    return "hcsshim-cpp-conformance-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
           "-" + suffix;
  }
  std::optional<schema::HostComputeNetwork> network(const std::string& suffix, int subnet) {
    std::string prefix = "172.29." + std::to_string(subnet) + ".";
    auto n = run(hcn_->createNetwork(hns::natNetwork(name(suffix), prefix + "0/24", prefix + "1")));
    EXPECT_TRUE(n.ok()) << n.status().toString();
    if (!n.ok()) return std::nullopt;
    networks_.push_back(*n->id);
    return *n;
  }

  std::unique_ptr<HcsApiBackend> backend_;
  std::unique_ptr<hns::HcnClient> hcn_;
  std::vector<std::string> networks_, endpoints_;
};

TEST_F(HnsApiConformance, ANetworkIsCreatedQueriedListedAndDeleted) {
  auto n = network("nat", 10);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->name, name("nat"));
  EXPECT_EQ(n->type, "NAT");
  auto again = run(hcn_->getNetwork(*n->id));
  ASSERT_TRUE(again.ok()) << again.status().toString();
  EXPECT_EQ(again->name, name("nat"));
  ASSERT_FALSE(again->ipams.empty());
  auto list = run(hcn_->listNetworks(Json{{"Name", name("nat")}}));
  ASSERT_TRUE(list.ok()) << list.status().toString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, n->id);
  ASSERT_TRUE(run(hcn_->deleteNetwork(*n->id)).ok());
  networks_.clear();
  EXPECT_FALSE(run(hcn_->getNetwork(*n->id)).ok()) << "deleted";
}

TEST_F(HnsApiConformance, AnEndpointGetsAnAddressInItsNetworkAndHoldsIt) {
  auto n = network("ep", 11);
  ASSERT_TRUE(n);
  schema::HostComputeEndpoint want;
  want.name = name("ep0");
  auto e = run(hcn_->createEndpoint(*n->id, want));
  ASSERT_TRUE(e.ok()) << e.status().toString();
  endpoints_.push_back(*e->id);
  EXPECT_EQ(e->hostComputeNetwork, n->id);
  ASSERT_FALSE(e->ipConfigurations.empty());
  EXPECT_THAT(e->ipConfigurations[0].ipAddress.value_or(""), ::testing::StartsWith("172.29.11."));
  Status held = run(hcn_->deleteNetwork(*n->id));
  EXPECT_FALSE(held.ok()) << "a network with an endpoint is not deleted";
  if (backend_->fake()) {
    EXPECT_EQ(held.hresult(), hr::kHcnEntityHasReferences) << held.toString();
  }
  ASSERT_TRUE(run(hcn_->deleteEndpoint(*e->id)).ok());
  endpoints_.clear();
  EXPECT_TRUE(run(hcn_->deleteNetwork(*n->id)).ok());
  networks_.clear();
}

TEST_F(HnsApiConformance, AnEndpointInANamespace) {
  auto n = network("ns", 12);
  ASSERT_TRUE(n);
  schema::HostComputeNamespace want;
  want.type = "Host";
  auto ns = run(hcn_->createNamespace(want));
  ASSERT_TRUE(ns.ok()) << ns.status().toString();
  schema::HostComputeEndpoint ep;
  ep.name = name("ep");
  auto e = run(hcn_->createEndpoint(*n->id, ep));
  ASSERT_TRUE(e.ok()) << e.status().toString();
  endpoints_.push_back(*e->id);
  ASSERT_TRUE(run(hcn_->attachEndpoint(*ns->id, *e->id)).ok());
  auto got = run(hcn_->getEndpoint(*e->id));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->hostComputeNamespace, ns->id);
  ASSERT_TRUE(run(hcn_->detachEndpoint(*ns->id, *e->id)).ok());
  EXPECT_TRUE(run(hcn_->deleteNamespace(*ns->id)).ok());
}

TEST_F(HnsApiConformance, UnknownIdsAndMalformedSettingsAreRefused) {
  const std::string unknown = "5a3c1f7e-0000-4000-8000-00000000c0de";
  Status st = run(hcn_->getNetwork(unknown)).status();
  EXPECT_FALSE(st.ok());
  if (backend_->fake()) {
    EXPECT_EQ(st.hresult(), hr::kElementNotFound) << st.toString();
  }
  EXPECT_FALSE(run(hcn_->deleteEndpoint(unknown)).ok());
  EXPECT_FALSE(run(hcn_->getNetwork("not-a-guid")).ok()) << "refused before HNS sees it";
  auto bad = run(backend_->hns()->create(hns::HcnObject::kNetwork, "", "", "{\"Name\": oops"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().hresult(), hr::kHcnInvalidJson) << bad.status().toString();
}

// HNS v1 (vmcompute.dll's HNSCall): the same networks, in v1's shapes.
TEST_F(HnsApiConformance, TheV1ApiSeesTheSameNetworks) {
  auto n = network("v1", 13);
  ASSERT_TRUE(n);
  hns::HnsV1Client v1(*backend_->hns());
  auto version = run(v1.version());
  ASSERT_TRUE(version.ok()) << version.status().toString();
  EXPECT_GE(version->major, 9u);
  auto got = run(v1.getNetwork(*n->id));
  ASSERT_TRUE(got.ok()) << got.status().toString();
  EXPECT_EQ(got->name, name("v1"));
}

}  // namespace
}  // namespace hcsshim::functional
