// The runner's own tests: real fixture suites (built by Bazel) that pass,
// fail, abort, hang past their timeout, exit non-zero without a failure and
// write no report, run through the same supervision and report code the
// main job uses - and through the conformance_runner binary itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"
#include "tools/conformance/report.h"
#include "tools/conformance/suite.h"

namespace hcsshim::conformance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

std::string runfile(const std::string& name) {
  return std::string(std::getenv("TEST_SRCDIR")) + "/hcsshim_cpp/tools/conformance/" + name;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rt = runtime::RealRuntime::create("runner-test");
    ASSERT_TRUE(rt.ok());
    rt_ = std::move(*rt);
    out_ = std::string(std::getenv("TEST_TMPDIR")) + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(out_);
  }
  SuiteResult run(const std::string& fixture, runtime::Duration timeout = std::chrono::seconds(60)) {
    SuiteSpec spec{.label = "//tools/conformance:" + fixture, .binary = runfile(fixture), .timeout = timeout};
    RunOptions o{.outDir = out_, .killGrace = std::chrono::seconds(1)};
    return runtime::blockOn(rt_->loop(), runSuite(*rt_, spec, o));
  }
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string out_;
};

TEST_F(RunnerTest, ASuiteThatEndsNormallyReportsEachScenario) {
  SuiteResult r = run("fixture_mixed");
  EXPECT_TRUE(r.ok()) << r.cause;
  EXPECT_EQ(r.exitCode, 1);
  ASSERT_EQ(r.scenarios.size(), 3u);
  EXPECT_EQ(r.scenarios[0].outcome, Outcome::kPass);
  EXPECT_EQ(r.scenarios[1].outcome, Outcome::kFail);
  EXPECT_THAT(r.scenarios[1].message, HasSubstr("the counter did not advance"));
  EXPECT_EQ(r.scenarios[2].outcome, Outcome::kSkip);
  EXPECT_THAT(r.scenarios[2].message, HasSubstr("needs qemu"));
  EXPECT_FALSE(count({r}).ok());
}

TEST_F(RunnerTest, ACrashIsAFailNamingTheSignalAndTheScenario) {
  SuiteResult r = run("fixture_abort");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.end, SuiteEnd::kCrashed);
  EXPECT_EQ(r.signal, SIGABRT);
  EXPECT_THAT(r.cause, HasSubstr("SIGABRT"));
  ASSERT_EQ(r.scenarios.size(), 2u) << "the passed scenario and the one that crashed, from the log";
  EXPECT_EQ(r.scenarios[0].name, "PassesFirst");
  EXPECT_EQ(r.scenarios[0].outcome, Outcome::kPass);
  EXPECT_EQ(r.scenarios[1].name, "ThenAborts");
  EXPECT_EQ(r.scenarios[1].outcome, Outcome::kError);
  EXPECT_THAT(r.scenarios[1].message, HasSubstr("SIGABRT"));
}

TEST_F(RunnerTest, ASuitePastItsTimeoutIsKilledWithItsHelpersAndFails) {
  SuiteResult r = run("fixture_hang", std::chrono::seconds(2));
  EXPECT_EQ(r.end, SuiteEnd::kTimedOut);
  EXPECT_THAT(r.cause, HasSubstr("timed out after 2 s"));
  ASSERT_EQ(r.scenarios.size(), 1u);
  EXPECT_EQ(r.scenarios[0].outcome, Outcome::kError);
  EXPECT_THAT(r.scenarios[0].message, HasSubstr("timed out during this scenario"));
  EXPECT_FALSE(count({r}).ok());
}

TEST_F(RunnerTest, ANonZeroExitWithoutAFailureIsAFail) {
  SuiteResult r = run("fixture_exit_without_failure");
  EXPECT_EQ(r.end, SuiteEnd::kExitMismatch);
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_THAT(r.cause, HasSubstr("exited with code 3 but reported no failure"));
  ASSERT_EQ(r.scenarios.size(), 1u);
  EXPECT_EQ(r.scenarios[0].outcome, Outcome::kPass);
  EXPECT_FALSE(count({r}).ok()) << "a suite that did not end properly fails the run even if its scenarios passed";
}

TEST_F(RunnerTest, NoReportIsAFail) {
  SuiteResult r = run("fixture_no_report");
  EXPECT_EQ(r.end, SuiteEnd::kNoReport);
  EXPECT_THAT(r.cause, HasSubstr("without writing a report"));
  EXPECT_FALSE(count({r}).ok());
  EXPECT_THAT(runtime::readFile(r.logPath).value_or(""), HasSubstr("all good, trust me"));
}

TEST_F(RunnerTest, JunitKeepsFailuresAndErrorsApart) {
  std::vector<SuiteResult> rs = {run("fixture_mixed"), run("fixture_abort"), run("fixture_no_report")};
  RunDescription d{.facts = {{"backend", "fake"}, {"commit", "abc"}}, .startedAt = "now"};
  std::string x = junitXml(d, rs);
  EXPECT_THAT(x, HasSubstr("<testsuites name=\"conformance\" tests=\"6\" failures=\"1\" errors=\"2\" skipped=\"1\""));
  EXPECT_THAT(x, HasSubstr("<failure message=\"tools/conformance/fixtures/mixed.cc"));
  EXPECT_THAT(x, HasSubstr("<error message=\"crashed (SIGABRT) during this scenario\""));
  EXPECT_THAT(x, HasSubstr("name=\"(suite)\""));
  // The report parses back as what it says.
  auto back = parseGtestXml(x);
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back->size(), 6u);
  std::string html = htmlReport(d, rs);
  EXPECT_THAT(html, HasSubstr("FAILED: 2 passed, 1 failed, 1 errors, 1 skipped; 2 of 3 suites did not end properly"));
  EXPECT_THAT(html, HasSubstr("<th>commit</th><td>abc</td>"));
  EXPECT_THAT(html, HasSubstr("the counter did not advance"));
}

// The binary the main job runs: every broken suite is a FAIL line, the exit
// is non-zero, and both report files are written.
TEST_F(RunnerTest, TheRunnerExitsNonZeroAndNamesEveryBrokenSuite) {
  std::string cmd = runfile("conformance_runner") + " --out " + out_ + " --jobs 2 --fact commit=abc";
  for (const char* f : {"fixture_abort", "fixture_hang", "fixture_exit_without_failure", "fixture_no_report"}) {
    cmd += std::string(" //t:") + f + "=" + runfile(f) + (std::string(f) == "fixture_hang" ? "@2" : "@60");
  }
  cmd += " > " + out_ + "/stdout.txt 2>&1";
  int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  std::string text = runtime::readFile(out_ + "/stdout.txt").value_or("");
  EXPECT_THAT(text, HasSubstr("FAIL  //t:fixture_abort: crashed: killed by SIGABRT"));
  EXPECT_THAT(text, HasSubstr("FAIL  //t:fixture_hang: timed out after 2 s"));
  EXPECT_THAT(text, HasSubstr("FAIL  //t:fixture_exit_without_failure: exited with code 3 but reported no failure"));
  EXPECT_THAT(text, HasSubstr("FAIL  //t:fixture_no_report: exited with code 0 without writing a report"));
  EXPECT_THAT(text, HasSubstr("results:    fresh: every suite runs now"));
  EXPECT_THAT(text, HasSubstr("4 suites (4 fresh, 0 cached), 4 did not end properly"));
  EXPECT_TRUE(fs::exists(out_ + "/junit.xml"));
  EXPECT_TRUE(fs::exists(out_ + "/report.html"));
  size_t kept = 0;
  for (const auto& e : fs::directory_iterator(out_ + "/history")) kept += e.path().string().ends_with("-report.html");
  EXPECT_EQ(kept, 1u) << "the run's report is kept in the history too";
}

// Cached results are reused only when asked, and then say so.
TEST_F(RunnerTest, CachedResultsAreUsedOnlyWithCachedAndAreMarked) {
  std::string base = runfile("conformance_runner") + " --out " + out_ + " //t:mixed=" + runfile("fixture_mixed") + "@60";
  auto runOnce = [&](const std::string& extra) {
    std::string cmd = base + extra + " > " + out_ + "/stdout.txt 2>&1";
    int rc = std::system(cmd.c_str());  // (void) does not silence glibc's warn_unused_result
    (void)rc;
    return runtime::readFile(out_ + "/stdout.txt").value_or("");
  };
  std::string first = runOnce("");
  EXPECT_THAT(first, HasSubstr("1 suites (1 fresh, 0 cached)"));
  std::string again = runOnce("");
  EXPECT_THAT(again, HasSubstr("1 suites (1 fresh, 0 cached)")) << "without --cached every run is fresh";
  std::string cached = runOnce(" --cached");
  EXPECT_THAT(cached, HasSubstr("1 suites (0 fresh, 1 cached)"));
  EXPECT_THAT(cached, HasSubstr("//t:mixed  (cached"));
  EXPECT_THAT(cached, HasSubstr("reported from the cache (--cached)"));
  EXPECT_THAT(cached, HasSubstr("1 passed, 1 failed, 0 errors, 1 skipped"));
}

}  // namespace
}  // namespace hcsshim::conformance

namespace hcsshim::conformance {
namespace {

// A parameterized suite's cases side by side (the CRI suite's handlers).
TEST(ColumnsTest, ParameterizedCasesLineUpByParameter) {
  SuiteResult s;
  s.label = "//cri_conformance:cri_conformance_test";
  auto add = [&](std::string name, Outcome o) {
    Scenario c;
    c.suite = "Handlers/CriTest";
    c.name = std::move(name);
    c.outcome = o;
    s.scenarios.push_back(c);
  };
  add("Version/runhcs", Outcome::kPass);
  add("Version/runc", Outcome::kPass);
  add("HostPort/runhcs", Outcome::kFail);
  add("HostPort/runc", Outcome::kPass);
  add("OnlyHere/runc", Outcome::kSkip);
  Scenario plain;
  plain.suite = "Other";
  plain.name = "NotParameterized";
  s.scenarios.push_back(plain);
  auto cols = columnsOf(s);
  ASSERT_EQ(cols.size(), 1u);
  EXPECT_EQ(cols[0].group, "Handlers/CriTest");
  EXPECT_THAT(cols[0].params, ::testing::ElementsAre("runhcs", "runc"));
  ASSERT_EQ(cols[0].rows.size(), 3u);
  EXPECT_EQ(cols[0].rows[1].first, "HostPort");
  EXPECT_EQ(cols[0].rows[1].second[0]->outcome, Outcome::kFail);
  EXPECT_EQ(cols[0].rows[1].second[1]->outcome, Outcome::kPass);
  EXPECT_EQ(cols[0].rows[2].second[0], nullptr) << "a case one column lacks";
  std::string html = htmlReport(RunDescription{}, {s});
  EXPECT_THAT(html, HasSubstr("Side by side: Handlers/CriTest"));
  char* text = nullptr;
  size_t size = 0;
  std::FILE* mem = open_memstream(&text, &size);
  printSuite(mem, s);
  std::fclose(mem);
  std::string console(text, size);
  std::free(text);
  EXPECT_THAT(console, HasSubstr("side by side: Handlers/CriTest"));
  EXPECT_THAT(console, ::testing::ContainsRegex("HostPort +FAIL +PASS +<- differs"));
}

}  // namespace
}  // namespace hcsshim::conformance
