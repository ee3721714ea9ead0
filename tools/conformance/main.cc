// conformance_runner: runs the conformance suites and writes the report.
//
//   conformance_runner --out out/conformance [--backend fake] [--cached] [--jobs 2]
//                      [--fact "host=Linux 6.1.0"]... LABEL=BINARY@TIMEOUT_S...
//
// Each suite (a gtest binary built by Bazel) runs afresh under this
// process's supervision (tools/conformance/suite.h); --cached lets a suite
// whose inputs did not change be reported from an earlier run, marked as
// such. Prints the report (what was tested, one line per scenario, a FAIL
// line for every suite that crashed, was killed, timed out or wrote no
// report, per-suite counts) and writes <out>/junit.xml and <out>/report.html.
// Exit status: 0 when everything passed, 1 otherwise, 2 for bad usage.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"
#include "tools/conformance/cache.h"
#include "tools/conformance/report.h"
#include "tools/conformance/suite.h"

namespace {

using namespace hcsshim;
using namespace hcsshim::conformance;
using runtime::Task;

StatusOr<SuiteSpec> parseSuite(const std::string& arg) {
  auto eq = arg.find('=');
  auto at = arg.rfind('@');
  if (eq == std::string::npos || at == std::string::npos || at < eq) {
    return InvalidArgumentError("suite \"" + arg + "\": want LABEL=BINARY@TIMEOUT_SECONDS");
  }
  SuiteSpec s;
  s.label = arg.substr(0, eq);
  s.binary = arg.substr(eq + 1, at - eq - 1);
  std::string t = arg.substr(at + 1);
  if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 6) {
    return InvalidArgumentError("suite \"" + arg + "\": timeout \"" + t + "\" is not a number of seconds");
  }
  s.timeout = std::chrono::seconds(std::stoi(t));
  return s;
}

struct Pool {
  std::vector<SuiteSpec> specs;
  std::vector<SuiteResult> results;
  size_t next = 0, finished = 0;
  runtime::WaitList done;
};

Task<void> worker(runtime::Runtime& rt, Pool& pool, ResultCache& cache, std::string context, bool cached,
                  RunOptions options) {
  while (pool.next < pool.specs.size()) {
    size_t i = pool.next++;
    const SuiteSpec& spec = pool.specs[i];
    std::string key = cache.key(spec, context);
    std::optional<SuiteResult> hit;
    if (cached) hit = cache.load(key);
    if (hit) {
      pool.results[i] = std::move(*hit);
    } else {
      pool.results[i] = co_await runSuite(rt, spec, options);
      cache.store(key, pool.results[i]);
    }
    const SuiteResult& r = pool.results[i];
    std::fprintf(stderr, "[%zu/%zu] %s: %s, %.1f s%s\n", ++pool.finished, pool.specs.size(), r.label.c_str(),
                 r.ok() ? "ended" : r.cause.c_str(), r.seconds, r.cached ? " (cached)" : "");
    pool.done.notifyAll();
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string out = "out/conformance", backend = "fake", cacheDir;
  bool cached = false, debug = false;
  int64_t jobs = 2;
  std::vector<std::string> factArgs;
  FlagSet flags("conformance_runner");
  flags.string("out", &out, "report directory (junit.xml, report.html, suites/)");
  flags.string("backend", &backend, "the backend the suites run against (HCS_BACKEND)");
  flags.boolean("cached", &cached, "report suites whose inputs did not change from an earlier run");
  flags.string("cache-dir", &cacheDir, "where results are kept (default <out>/cache)");
  flags.integer("jobs", &jobs, "suites run at once");
  flags.strings("fact", &factArgs, "KEY=VALUE describing what is tested (repeatable, in order)");
  flags.boolean("debug", &debug, "log debug events");
  auto args = flags.parse(argc, argv);
  if (!args.ok() || args->empty() || jobs < 1) {
    std::fprintf(stderr, "%s\nusage: conformance_runner [flags] LABEL=BINARY@TIMEOUT_S...\n%s",
                 args.ok() ? "no suites given" : args.status().message().c_str(), flags.usage().c_str());
    return 2;
  }
  log::setLevel(debug ? LogLevel::kDebug : LogLevel::kWarn);
  Pool pool;
  for (const auto& a : *args) {
    auto s = parseSuite(a);
    if (!s.ok()) {
      std::fprintf(stderr, "conformance_runner: %s\n", s.status().message().c_str());
      return 2;
    }
    pool.specs.push_back(std::move(*s));
  }
  std::sort(pool.specs.begin(), pool.specs.end(), [](auto& a, auto& b) { return a.label < b.label; });
  pool.results.resize(pool.specs.size());

  RunDescription run;
  run.cachedAllowed = cached;
  run.facts.push_back({"backend", backend});
  std::string context = "backend=" + backend + "\n";
  for (const auto& f : factArgs) {
    auto eq = f.find('=');
    run.facts.push_back({f.substr(0, eq), eq == std::string::npos ? "" : f.substr(eq + 1)});
    // The commit is already in the binaries' digests; what else describes the host is part of the key.
    if (f.rfind("commit=", 0) != 0) context += f + "\n";
  }
  auto rt = runtime::RealRuntime::create("conformance");
  if (!rt.ok()) {
    std::fprintf(stderr, "conformance_runner: %s\n", rt.status().toString().c_str());
    return 1;
  }
  run.startedAt = log::formatTime((*rt)->loop().clock().wallNanos());
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  ResultCache cache(cacheDir.empty() ? out + "/cache" : cacheDir);
  RunOptions options{.outDir = out + "/suites", .env = {{"HCS_BACKEND", backend}}};
  size_t workers = std::min<size_t>(static_cast<size_t>(jobs), pool.specs.size());
  for (size_t i = 0; i < workers; ++i) runtime::spawn(worker(**rt, pool, cache, context, cached, options));
  (*rt)->loop().runUntil([&] { return pool.finished == pool.specs.size(); });
  runtime::drain((*rt)->loop());

  printHeader(stdout, run);
  for (const auto& r : pool.results) printSuite(stdout, r);
  printSummary(stdout, pool.results);
  std::string junit = junitXml(run, pool.results), html = htmlReport(run, pool.results);
  std::ofstream(out + "/junit.xml") << junit;
  std::ofstream(out + "/report.html") << html;
  // Earlier runs are kept (the newest 50): a failure is not lost to the next run.
  std::string history = out + "/history";
  std::filesystem::create_directories(history, ec);
  std::string stamp = run.startedAt.substr(0, 19);
  std::replace(stamp.begin(), stamp.end(), ':', '-');
  std::ofstream(history + "/" + stamp + "-junit.xml") << junit;
  std::ofstream(history + "/" + stamp + "-report.html") << html;
  std::vector<std::filesystem::path> kept;
  for (const auto& e : std::filesystem::directory_iterator(history, ec)) kept.push_back(e.path());
  std::sort(kept.begin(), kept.end());
  for (size_t i = 0; i + 100 < kept.size(); ++i) std::filesystem::remove(kept[i], ec);
  std::printf("\nJUnit XML: %s/junit.xml\nHTML report: %s/report.html (earlier runs: %s)\n", out.c_str(), out.c_str(),
              history.c_str());
  return count(pool.results).ok() ? 0 : 1;
}
