// Hostile documents against the hcs_fake daemon: hundreds of malformed,
// truncated, mistyped, oversized and deeply nested documents derived from
// valid ones. Each must be answered with HCS_E_INVALID_JSON (or the ttrpc
// size limit), the daemon must keep serving another client throughout, and
// no compute system may appear or disappear because of it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "functional/harness/hcs_fake_daemon.h"
#include "platforms/linux/daemon_hcs.h"
#include "sim/world.h"
#include "src/common/status_matchers.h"
#include "src/hcs/compute_system.h"
#include "src/runtime/random.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::functional {
namespace {

using ::hcsshim::testing::HResultIs;
using ::hcsshim::testing::IsOk;
using runtime::Task;
namespace hr = hresult;

// A typed leaf of a valid document and a value of the wrong JSON type for it.
struct Leaf {
  Json::json_pointer path;
};

void collectLeaves(const Json& j, Json::json_pointer at, std::vector<Leaf>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) collectLeaves(it.value(), at / it.key(), out);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) collectLeaves(j[i], at / i, out);
  } else {
    out.push_back({at});
  }
}

Json wrongTypeFor(const Json& v, runtime::Random& r) {
  std::vector<Json> candidates = {Json("text"), Json(12345), Json(true), Json::array({1, 2}), Json::object({{"k", 1}})};
  for (;;) {
    Json c = candidates[r.uniform(candidates.size())];
    bool sameKind = (c.is_string() && v.is_string()) || (c.is_number() && v.is_number()) ||
                    (c.is_boolean() && v.is_boolean());
    if (!sameKind) return c;
  }
}

class HcsFuzzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("hcs-fuzz"));
    char tmpl[] = "/tmp/hcs-fuzz-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto d = HcsFakeDaemon::start(*rt_, dir_);
    ASSERT_THAT(d, IsOk());
    daemon_ = std::move(*d);
    address_ = daemon_->address();
    fuzzer_ = connect();
    bystander_ = connect();
    ASSERT_TRUE(fuzzer_ && bystander_);
  }
  void TearDown() override {
    fuzzer_.reset();
    bystander_.reset();
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(), 0);
    }
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<platforms::DaemonHcs> connect() {
    auto c = run(platforms::DaemonHcs::connect(*rt_, address_));
    EXPECT_THAT(c, IsOk());
    return c.ok() ? std::move(*c) : nullptr;
  }
  template <typename T>
  T run(Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_, address_;
  std::unique_ptr<HcsFakeDaemon> daemon_;
  std::unique_ptr<platforms::DaemonHcs> fuzzer_, bystander_;
};

TEST_F(HcsFuzzTest, HostileDocumentsGetInvalidJsonAndNothingIsLost) {
  uint64_t seed = sim::seedFromEnv(424242);
  runtime::Random rnd(seed);
  SCOPED_TRACE("replay: --test_env=HCS_SIM_SEED=" + std::to_string(seed));

  // The bystander owns a running container with a process for the whole run.
  auto held = run(hcs::ComputeSystem::create(*bystander_, rt_->loop(), "bystander",
                                             R"({"Owner":"fuzz","SchemaVersion":{"Major":2,"Minor":1},"Container":{}})"));
  ASSERT_THAT(held, IsOk());
  ASSERT_THAT(run((*held)->start()), IsOk());
  schema::ProcessParameters sleeper;
  sleeper.commandArgs = {"sleep", "1000"};
  auto proc = run((*held)->createProcess(sleeper));
  ASSERT_THAT(proc, IsOk());

  // A target for Modify/CreateProcess/properties mutations, owned by the fuzzer.
  auto target = run(fuzzer_->createComputeSystem("target", R"({"Owner":"fuzz","Container":{}})"));
  ASSERT_THAT(target, IsOk());
  ASSERT_THAT(run(fuzzer_->startComputeSystem(*target, "")), IsOk());

  std::ofstream(dir_ + "/kernel") << "k";
  const std::vector<Json> createDocs = {
      *parseJson(R"({"Owner":"fuzz","SchemaVersion":{"Major":2,"Minor":1},"ShouldTerminateOnLastHandleClosed":true,
                    "Container":{"GuestOs":{"HostName":"h"},"Memory":{"SizeInMB":256},"Processor":{"Count":1}}})"),
      Json{{"Owner", "fuzz"},
           {"VirtualMachine",
            {{"StopOnReset", true},
             {"Chipset", {{"LinuxKernelDirect", {{"KernelFilePath", dir_ + "/kernel"}, {"KernelCmdLine", "quiet"}}}}},
             {"ComputeTopology", {{"Memory", {{"SizeInMB", 512}, {"AllowOvercommit", true}}}, {"Processor", {{"Count", 2}}}}},
             {"GuestConnection", {{"UseVsock", true}}}}}}};
  const Json modifyDoc = {{"ResourcePath", "Container/Memory/SizeInMB"}, {"RequestType", "Update"}, {"Settings", 512}};
  const Json processDoc = {{"CommandArgs", {"true"}}, {"WorkingDirectory", "/"}, {"Environment", {{"A", "b"}}},
                           {"CreateStdOutPipe", false}, {"ConsoleSize", {24, 80}}};
  const Json queryDoc = {{"PropertyTypes", {"ProcessList", "Statistics"}}};

  enum class Target { kCreate, kModify, kProcess, kProperties };
  int cases = 0, creates = 0;
  auto check = [&](Target t, const std::string& doc, const std::string& what, HResult want,
                   const std::string& mustMention) {
    ++cases;
    SCOPED_TRACE(what + ": " + doc.substr(0, 200));
    Status st;
    switch (t) {
      case Target::kCreate:
        st = run(fuzzer_->createComputeSystem("fuzz-" + std::to_string(creates++), doc)).status();
        break;
      case Target::kModify:
        st = run(fuzzer_->modifyComputeSystem(*target, doc));
        break;
      case Target::kProcess:
        st = run(fuzzer_->createProcess(*target, doc)).status();
        break;
      case Target::kProperties:
        st = run(fuzzer_->getComputeSystemProperties(*target, doc)).status();
        break;
    }
    EXPECT_THAT(st, HResultIs(want));
    if (!mustMention.empty()) {
      EXPECT_THAT(st.message(), ::testing::HasSubstr(mustMention));
    }
  };

  std::vector<std::pair<Target, Json>> valid;
  for (auto& d : createDocs) valid.push_back({Target::kCreate, d});
  valid.push_back({Target::kModify, modifyDoc});
  valid.push_back({Target::kProcess, processDoc});
  valid.push_back({Target::kProperties, queryDoc});

  for (auto& [t, doc] : valid) {
    std::string text = doc.dump();
    // 1. Every kind of truncation (a strict prefix of a compact object is never JSON).
    for (int i = 0; i < 30; ++i) {
      size_t cut = 1 + rnd.uniform(text.size() - 1);
      check(t, text.substr(0, cut), "truncated at " + std::to_string(cut), hr::kHcsInvalidJson, "invalid JSON at byte");
    }
    // 2. One typed leaf replaced by a value of another type: the error names it.
    std::vector<Leaf> leaves;
    collectLeaves(doc, Json::json_pointer(), leaves);
    for (int i = 0; i < 35; ++i) {
      const Leaf& leaf = leaves[rnd.uniform(leaves.size())];
      Json mutated = doc;
      mutated[leaf.path] = wrongTypeFor(doc[leaf.path], rnd);
      std::string name = leaf.path.back();
      if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) name = leaf.path.parent_pointer().back();
      check(t, mutated.dump(), "mistyped " + leaf.path.to_string(), hr::kHcsInvalidJson, name);
    }
    // 3. Not an object at all.
    for (const char* bad : {"[]", "42", "null", "\"text\"", "true"}) {
      check(t, bad, std::string("top level ") + bad, hr::kHcsInvalidJson, "");
    }
    // 4. Hostile structure: deep nesting, broken UTF-8, random bytes.
    check(t, std::string(5000, '[') + std::string(5000, ']'), "deep nesting", hr::kHcsInvalidJson, "nesting");
    check(t, "{\"Owner\":\"\xc3\x28\"}", "invalid UTF-8", hr::kHcsInvalidJson, "");
    for (int i = 0; i < 10; ++i) {
      std::string noise = "{" + rnd.bytes(rnd.between(1, 64));
      check(t, noise, "noise", hr::kHcsInvalidJson, "");
    }
  }

  // 5. Hostile ids: broken UTF-8 and control characters are refused by name.
  for (std::string badId : {std::string("bad\xff\xfeid"), std::string("tab\tid"), std::string(300, 'x'), std::string()}) {
    auto r = run(fuzzer_->createComputeSystem(badId, jsonText(createDocs[0])));
    EXPECT_THAT(r, HResultIs(hr::kInvalidArg)) << r.status();
    ++cases;
  }

  // 6. Oversized: refused by the size limit, the connection survives.
  std::string huge = R"({"Owner":")" + std::string(5 << 20, 'x') + R"(","Container":{}})";
  auto big = run(fuzzer_->createComputeSystem("fuzz-huge", huge));
  EXPECT_EQ(big.status().code(), Code::kResourceExhausted) << big.status();
  ++cases;

  EXPECT_GE(cases, 400);

  // Nothing appeared, nothing was lost, and both clients are still served.
  auto list = run(bystander_->enumerateComputeSystems(""));
  ASSERT_THAT(list, IsOk());
  Json systems = *parseJson(*list);
  std::set<std::string> ids;
  for (auto& s : systems) ids.insert(s["Id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"bystander", "target"}));
  auto props = run((*held)->properties({"ProcessList"}));
  ASSERT_THAT(props, IsOk());
  EXPECT_EQ(props->state, "Running");
  ASSERT_EQ(props->processList.size(), 1u);
  EXPECT_EQ(props->processList[0].processId, (*proc)->pid());
  EXPECT_THAT(run(fuzzer_->getComputeSystemProperties(*target, "")), IsOk());
  EXPECT_TRUE(daemon_->running()) << "the daemon is alive";

  ASSERT_THAT(run((*proc)->kill()), IsOk());
  ASSERT_THAT(run((*held)->terminate()), IsOk());
}

}  // namespace
}  // namespace hcsshim::functional
