// hnsdiag against a real hcs_fake daemon: the commands as a user runs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "functional/harness/hcs_fake_daemon.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using runtime::Task;

struct Result {
  int code = -1;
  std::string out, err;
};

class HnsdiagTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("hnsdiag-test"));
    char tmpl[] = "/tmp/hnsdiag-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto d = functional::HcsFakeDaemon::start(*rt_, dir_, {"-quiet", "--vm-backend", "none", "--hns-version", "14.2"});
    ASSERT_THAT(d, IsOk());
    daemon_ = std::move(*d);
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0);
    }
    std::filesystem::remove_all(dir_);
  }
  Result hnsdiag(std::vector<std::string> args) {
    runtime::ProcessSpec spec{.path = functional::HcsFakeDaemon::runfile("tools/hnsdiag/hnsdiag"),
                              .args = {"hnsdiag", "--address", daemon_->address()}};
    spec.args.insert(spec.args.end(), args.begin(), args.end());
    spec.stdoutMode = runtime::StdioMode::kPipe;
    spec.stderrMode = runtime::StdioMode::kPipe;
    auto p = rt_->processes().spawn(spec);
    EXPECT_THAT(p, IsOk());
    // Both streams at once: a child blocked on a full stderr pipe would never close stdout.
    auto err = std::make_shared<std::string>();
    auto errDone = std::make_shared<bool>(false);
    runtime::spawn([](runtime::Stream* s, std::shared_ptr<std::string> out, std::shared_ptr<bool> done) -> Task<void> {
      auto text = co_await runtime::readToEnd(*s);
      *out = text.ok() ? *text : "";
      *done = true;
    }((*p)->stderrStream(), err, errDone));
    Result r = runtime::blockOn(rt_->loop(), [](runtime::Process& p) -> Task<Result> {
      Result r;
      auto out = co_await runtime::readToEnd(*p.stdoutStream());
      r.out = out.ok() ? *out : "";
      r.code = (co_await p.wait()).exitCode;
      co_return r;
    }(**p));
    rt_->loop().runUntil([&] { return *errDone; });
    r.err = *err;
    return r;
  }
  static std::string firstWord(const std::string& s) { return s.substr(0, s.find_first_of(" \n")); }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_;
  std::unique_ptr<functional::HcsFakeDaemon> daemon_;
};

TEST_F(HnsdiagTest, CreateListShowAttachDelete) {
  EXPECT_EQ(hnsdiag({"version"}).out, "14.2\n");
  auto net = hnsdiag({"create", "network", "diagnet", "NAT", "172.28.0.0/24", "172.28.0.1"});
  ASSERT_EQ(net.code, 0) << net.err;
  EXPECT_THAT(net.out, HasSubstr("diagnet  NAT  172.28.0.0/24"));
  std::string netId = firstWord(net.out);
  auto ep = hnsdiag({"create", "endpoint", netId});
  ASSERT_EQ(ep.code, 0) << ep.err;
  EXPECT_THAT(ep.out, HasSubstr("172.28.0.2/24"));
  std::string epId = firstWord(ep.out);
  auto ns = hnsdiag({"create", "namespace"});
  ASSERT_EQ(ns.code, 0) << ns.err;
  std::string nsId = firstWord(ns.out);
  EXPECT_EQ(hnsdiag({"attach", nsId, epId}).code, 0);
  EXPECT_THAT(hnsdiag({"list", "endpoints"}).out, HasSubstr("namespace=" + nsId));
  EXPECT_THAT(hnsdiag({"list", "namespaces"}).out, HasSubstr("resources=1"));
  EXPECT_THAT(hnsdiag({"list", "networks", "--filter", R"({"Name":"diagnet"})"}).out, StartsWith(netId));
  EXPECT_EQ(hnsdiag({"list", "networks", "--filter", R"({"Name":"other"})"}).out, "");
  auto lbDoc = dir_ + "/lb.json";
  {
    std::FILE* f = std::fopen(lbDoc.c_str(), "w");
    std::fprintf(f, R"({"HostComputeEndpoints":["%s"],"FrontendVIPs":["10.20.0.1"],"PortMappings":[{"Protocol":6,"InternalPort":80,"ExternalPort":8080}]})",
                 epId.c_str());
    std::fclose(f);
  }
  auto lb = hnsdiag({"create", "loadbalancer", "--json", lbDoc});
  ASSERT_EQ(lb.code, 0) << lb.err;
  EXPECT_THAT(lb.out, HasSubstr("6:8080->80"));
  // A second one on the same frontend: the HRESULT reaches the user.
  auto clash = hnsdiag({"create", "loadbalancer", "--json", lbDoc});
  EXPECT_EQ(clash.code, 1);
  EXPECT_THAT(clash.err, HasSubstr("HCN_E_PORT_ALREADY_EXISTS"));
  // Policies are shown one per line.
  auto epDoc = dir_ + "/ep.json";
  {
    std::FILE* f = std::fopen(epDoc.c_str(), "w");
    std::fprintf(f, R"({"Policies":[{"Type":"ACL","Settings":{"Action":"Block","Direction":"Out","RuleType":"Switch"}},{"Type":"QOS","Settings":{"MaximumOutgoingBandwidthInBytes":42}}]})");
    std::fclose(f);
  }
  auto ep2 = hnsdiag({"create", "endpoint", "--network", netId, "--json", epDoc});
  ASSERT_EQ(ep2.code, 0) << ep2.err;
  auto pol = hnsdiag({"policies", "endpoint", firstWord(ep2.out)});
  EXPECT_EQ(pol.out, "ACL  {\"Action\":\"Block\",\"Direction\":\"Out\",\"RuleType\":\"Switch\"}\nQOS  {\"MaximumOutgoingBandwidthInBytes\":42}\n");
  EXPECT_THAT(hnsdiag({"show", "network", netId}).out, HasSubstr("\"Name\": \"diagnet\""));
  // Referential integrity as a user sees it, then an orderly teardown.
  auto busy = hnsdiag({"delete", "network", netId});
  EXPECT_EQ(busy.code, 1);
  EXPECT_THAT(busy.err, HasSubstr("HCN_E_ENTITY_HAS_REFERENCES"));
  EXPECT_EQ(hnsdiag({"delete", "loadbalancer", firstWord(lb.out)}).code, 0);
  EXPECT_EQ(hnsdiag({"detach", nsId, epId}).code, 0);
  EXPECT_EQ(hnsdiag({"delete", "endpoint", epId}).code, 0);
  EXPECT_EQ(hnsdiag({"delete", "endpoint", firstWord(ep2.out)}).code, 0);
  EXPECT_EQ(hnsdiag({"delete", "namespace", nsId}).code, 0);
  EXPECT_EQ(hnsdiag({"delete", "network", netId}).code, 0);
  EXPECT_EQ(hnsdiag({"list", "networks"}).out, "");
  auto unknown = hnsdiag({"list", "bananas"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("unknown HCN object type \"bananas\""));
  EXPECT_EQ(hnsdiag({"frobnicate"}).code, 2);
}

}  // namespace
}  // namespace hcsshim
