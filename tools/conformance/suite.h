// suite.h: runs one conformance suite (a gtest binary built by Bazel) the
// way `bazel test` would - its runfiles, a private TEST_TMPDIR, an XML
// report path - under the runner's own supervision, and says what happened.
//
//   SuiteSpec spec{.label = "//functional:shim_test", .binary = "bazel-bin/functional/shim_test",
//                  .timeout = std::chrono::seconds(300)};
//   SuiteResult r = co_await runSuite(rt, spec, {.outDir = "out/conformance/suites"});
//   if (!r.ok()) printf("FAIL %s: %s\n", r.label.c_str(), r.cause.c_str());
//
// A suite that crashes, dies of a signal, outlives its timeout (it is sent
// SIGTERM, then SIGKILL, with every process of its session), exits non-zero
// without reporting a failure, or writes no report, is not ok: `cause` says
// which, and the scenario that was running is an error. Nothing is read from
// a cache here (cache.h decides whether to call this at all).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/runtime/runtime.h"
#include "tools/conformance/scenario.h"

namespace hcsshim::conformance {

struct SuiteSpec {
  std::string label;   // //functional:shim_test
  std::string binary;  // the built test binary (its runfiles beside it)
  runtime::Duration timeout = std::chrono::seconds(300);
};

struct RunOptions {
  std::string outDir;                       // <outDir>/<suite>/{test.xml,test.log,tmp}
  std::map<std::string, std::string> env;   // added to the suite's environment (HCS_BACKEND)
  runtime::Duration killGrace = std::chrono::seconds(5);  // SIGTERM -> SIGKILL
};

enum class SuiteEnd {
  kCompleted,     // exited 0 with a report, or non-zero with a failure in it
  kExitMismatch,  // exited non-zero, the report shows no failure
  kCrashed,       // killed by a signal
  kTimedOut,      // outlived its timeout
  kNoReport,      // exited without writing a (readable) report
  kNotStarted,    // could not be started
};

struct SuiteResult {
  std::string label;
  SuiteEnd end = SuiteEnd::kCompleted;
  int exitCode = 0;
  int signal = 0;
  double seconds = 0;
  std::string cause;   // empty when ok()
  std::vector<Scenario> scenarios;
  std::string xmlPath, logPath;
  bool cached = false;     // filled by the cache, never by runSuite
  std::string ranAt;       // RFC 3339 time the suite ran
  bool ok() const { return end == SuiteEnd::kCompleted; }
};

// runSuite runs the suite to its end (never throws, never hangs past
// timeout + killGrace).
runtime::Task<SuiteResult> runSuite(runtime::Runtime& rt, SuiteSpec spec, RunOptions options);

// classify decides a suite's end from what the supervisor saw. Exposed for tests.
void classify(SuiteResult& r, bool timedOut, const std::string& xml, bool xmlPresent, const std::string& log,
              runtime::Duration timeout);

// signalName: "SIGABRT" for 6.
std::string signalName(int sig);

// suiteDirName: a label as a directory name (//functional:shim_test -> functional_shim_test).
std::string suiteDirName(const std::string& label);

}  // namespace hcsshim::conformance
