// Recording HCS traffic and replaying it: a session against the fake HCS is
// recorded, then the same client steps against the recording get the same
// answers and notifications; a client that does something else is told
// where it diverged; a recording that is not one is refused by line.
#include "src/hcs/recording.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hcs_fake/testing/fake_host.h"
#include "sim/run.h"
#include "src/common/status_matchers.h"
#include "src/schema/hcs.h"
#include "src/uvm/uvm.h"

namespace hcsshim::hcs {
namespace {

using ::testing::HasSubstr;
using hcsshim::testing::IsOk;
using runtime::Task;

// What one session saw: every call's result and every notification, as text.
struct Seen {
  std::vector<std::string> results, events;
};

std::string describe(const Status& s) { return s.toString(); }

// session: the client's steps (a VM created, watched, started, queried,
// terminated, closed; a missing system opened; the systems listed).
Task<Seen> session(HcsApi& api, runtime::EventLoop& loop, std::string config, std::string id) {
  Seen seen;
  auto h = co_await api.createComputeSystem(id, config);
  seen.results.push_back("create " + (h.ok() ? std::string("ok") : describe(h.status())));
  if (!h.ok()) co_return seen;
  Status cb = api.setComputeSystemCallback(*h, [&seen](const Event& e) {
    seen.events.push_back(eventTypeName(e.type) + " " + e.eventData);
  });
  seen.results.push_back("callback " + describe(cb));
  seen.results.push_back("start " + describe(co_await api.startComputeSystem(*h, "")));
  auto props = co_await api.getComputeSystemProperties(*h, R"({"PropertyTypes":[]})");
  seen.results.push_back("properties " + (props.ok() ? *props : describe(props.status())));
  seen.results.push_back("terminate " + describe(co_await api.terminateComputeSystem(*h, "")));
  for (int i = 0; i < 50 && seen.events.empty(); ++i) co_await runtime::sleep(loop, std::chrono::milliseconds(100));
  api.closeComputeSystem(*h);
  auto missing = co_await api.openComputeSystem("nobody");
  seen.results.push_back("open " + (missing.ok() ? std::string("ok") : describe(missing.status())));
  auto list = co_await api.enumerateComputeSystems("");
  seen.results.push_back("list " + (list.ok() ? *list : describe(list.status())));
  co_return seen;
}

class RecordingTest : public ::testing::Test {
 protected:
  RecordingTest() : host_(41) {
    uvm::LcowOptions o{.id = "vm-rec", .bootFilesPath = host_.bootFiles};
    config_ = schema::encode(*uvm::lcowDocument(o)).dump();
  }
  // record: the session against the fake HCS, and its recording.
  std::string record(Seen* seen) {
    std::string text;
    RecordingHcsApi rec(*host_.api, host_.node.loop(), [&](const std::string& line) { text += line + "\n"; });
    *seen = sim::run(host_.world, session(rec, host_.node.loop(), config_, "vm-rec"));
    return text;
  }
  hcs_fake::FakeHost host_;
  std::string config_;
};

TEST_F(RecordingTest, AReplayAnswersAsHcsDid) {
  Seen live;
  std::string text = record(&live);
  ASSERT_EQ(live.results.size(), 7u) << text;
  EXPECT_EQ(live.results[0], "create ok");
  EXPECT_THAT(live.results[5], HasSubstr("HCS_E_SYSTEM_NOT_FOUND")) << "a failure is recorded too";
  ASSERT_FALSE(live.events.empty()) << "the exit notification";
  EXPECT_THAT(text, HasSubstr(R"("op":"createComputeSystem")"));
  EXPECT_THAT(text, HasSubstr(R"("event":{)"));

  auto replay = ReplayHcsApi::load(host_.node.loop(), text);
  ASSERT_THAT(replay, IsOk());
  Seen again = sim::run(host_.world, session(**replay, host_.node.loop(), config_, "vm-rec"));
  EXPECT_EQ(again.results, live.results);
  EXPECT_EQ(again.events, live.events);
  EXPECT_EQ((*replay)->divergence(), "");
  EXPECT_EQ((*replay)->remaining(), 0u);
}

TEST_F(RecordingTest, TheFirstDivergenceIsNamedByCallAndField) {
  Seen live;
  std::string text = record(&live);
  // Another memory size: the document's field is named.
  uvm::LcowOptions o{.id = "vm-rec", .bootFilesPath = host_.bootFiles, .memoryMB = 2048};
  std::string bigger = schema::encode(*uvm::lcowDocument(o)).dump();
  auto replay = ReplayHcsApi::load(host_.node.loop(), text);
  ASSERT_THAT(replay, IsOk());
  Seen other = sim::run(host_.world, session(**replay, host_.node.loop(), bigger, "vm-rec"));
  ASSERT_EQ(other.results.size(), 1u);
  EXPECT_THAT(other.results[0], HasSubstr("replay diverged"));
  EXPECT_THAT((*replay)->divergence(),
              HasSubstr("call #0 createComputeSystem: field configuration.VirtualMachine.ComputeTopology.Memory.SizeInMB"));
  // Another id.
  auto again = ReplayHcsApi::load(host_.node.loop(), text);
  ASSERT_THAT(again, IsOk());
  (void)sim::run(host_.world, session(**again, host_.node.loop(), config_, "vm-other"));
  EXPECT_THAT((*again)->divergence(), HasSubstr("field id"));
  // Another call: everything after the divergence fails too.
  auto third = ReplayHcsApi::load(host_.node.loop(), text);
  ASSERT_THAT(third, IsOk());
  auto listed = sim::run(host_.world, (*third)->enumerateComputeSystems(""));
  EXPECT_THAT((*third)->divergence(), HasSubstr("call #0: expected createComputeSystem, got enumerateComputeSystems"));
  EXPECT_FALSE(listed.ok());
  EXPECT_THAT(sim::run(host_.world, (*third)->openComputeSystem("x")).status().message(), HasSubstr("diverged earlier"));
}

TEST(ReplayLoadTest, ARecordingThatIsNotOneIsRefusedByLine) {
  runtime::EventLoop* none = nullptr;
  hcs_fake::FakeHost host(3);
  none = &host.node.loop();
  const std::string good = R"({"call":0,"op":"enumerateComputeSystems","args":{"query":""},"result":{"hr":"0x00000000","value":"[]"}})";
  struct Case {
    std::string text, why;
  } cases[] = {
      {good + "\n" + good.substr(0, 30), "recording line 2: not JSON"},
      {"[1,2]", "recording line 1: not an object"},
      {R"({"op":"x"})", "recording line 1: a call needs call, op, args and result"},
      {R"({"call":0,"op":"x","args":{},"result":{"hr":"zz"}})", "result.hr \"zz\" is not 0x and 8 hex digits"},
      {R"({"call":0,"op":"x","args":{},"result":{"handle":"one"}})", "result.handle is not a number"},
      {R"({"event":{"handle":1,"type":1},"after":0})", "an event needs handle, type, data and after"},
  };
  for (const auto& c : cases) {
    auto r = ReplayHcsApi::load(*none, c.text);
    ASSERT_FALSE(r.ok()) << c.why;
    EXPECT_THAT(r.status().message(), HasSubstr(c.why));
  }
  EXPECT_THAT(ReplayHcsApi::load(*none, good + "\n\n"), IsOk()) << "blank lines are fine";
}

TEST(FirstDifferenceTest, NamesThePath) {
  EXPECT_EQ(firstDifference(*parseJson(R"({"a":{"b":[1,{"c":2}]}})"), *parseJson(R"({"a":{"b":[1,{"c":3}]}})")), "a.b.[1].c");
  EXPECT_EQ(firstDifference(*parseJson(R"({"a":1,"b":2})"), *parseJson(R"({"b":2,"a":1})")), "");
  EXPECT_EQ(firstDifference(*parseJson(R"({"a":1})"), *parseJson(R"({"a":1,"z":0})")), "z");
  EXPECT_EQ(firstDifference(*parseJson("[1]"), *parseJson("[1,2]")), "[1]");
}

}  // namespace
}  // namespace hcsshim::hcs
