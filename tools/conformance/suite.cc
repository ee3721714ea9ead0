#include "tools/conformance/suite.h"

#include <signal.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "src/common/log.h"
#include "src/runtime/read_file.h"

extern char** environ;

namespace hcsshim::conformance {

namespace fs = std::filesystem;
using runtime::Task;

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string suiteDirName(const std::string& label) {
  std::string out;
  for (char c : label) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') out += c;
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.front() == '_') out.erase(out.begin());
  return out.empty() ? "suite" : out;
}

void classify(SuiteResult& r, bool timedOut, const std::string& xml, bool xmlPresent, const std::string& log,
              runtime::Duration timeout) {
  std::vector<Scenario> fromXml;
  bool xmlOk = false;
  std::string xmlError;
  if (xmlPresent) {
    auto parsed = parseGtestXml(xml);
    xmlOk = parsed.ok();
    if (xmlOk) fromXml = std::move(*parsed);
    else xmlError = parsed.status().message();
  }
  auto anyFailed = [](const std::vector<Scenario>& v) {
    for (auto& s : v) {
      if (s.outcome == Outcome::kFail || s.outcome == Outcome::kError) return true;
    }
    return false;
  };
  // What the suite died in the middle of: the scenarios its log shows.
  auto fromLogWith = [&](const std::string& cause) {
    r.scenarios = parseGtestLog(log);
    if (!r.scenarios.empty() && r.scenarios.back().message == "did not finish" &&
        r.scenarios.back().outcome == Outcome::kError) {
      r.scenarios.back().message = cause + " during this scenario";
    }
  };
  if (timedOut) {
    r.end = SuiteEnd::kTimedOut;
    r.cause = "timed out after " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
              " s (killed)";
    fromLogWith("timed out");
    return;
  }
  if (r.signal != 0) {
    r.end = SuiteEnd::kCrashed;
    r.cause = "crashed: killed by " + signalName(r.signal);
    if (xmlOk && !fromXml.empty()) {
      r.scenarios = std::move(fromXml);  // it died after writing its report
      r.cause += " after writing its report";
    } else {
      fromLogWith("crashed (" + signalName(r.signal) + ")");
    }
    return;
  }
  if (!xmlPresent || !xmlOk) {
    r.end = SuiteEnd::kNoReport;
    r.cause = !xmlPresent ? "exited with code " + std::to_string(r.exitCode) + " without writing a report"
                          : "exited with code " + std::to_string(r.exitCode) + " and an unreadable report (" + xmlError + ")";
    fromLogWith("exited with code " + std::to_string(r.exitCode));
    return;
  }
  r.scenarios = std::move(fromXml);
  if (r.scenarios.empty()) {
    r.end = SuiteEnd::kNoReport;
    r.cause = "exited with code " + std::to_string(r.exitCode) + " and reported no scenario";
    return;
  }
  if (r.exitCode != 0 && !anyFailed(r.scenarios)) {
    r.end = SuiteEnd::kExitMismatch;
    r.cause = "exited with code " + std::to_string(r.exitCode) + " but reported no failure";
    return;
  }
  if (r.exitCode == 0 && anyFailed(r.scenarios)) {
    r.end = SuiteEnd::kExitMismatch;
    r.cause = "reported failures but exited with code 0";
    return;
  }
  r.end = SuiteEnd::kCompleted;
}

namespace {

struct LogCopy {
  std::ofstream file;
  int open = 0;  // relays still copying
  runtime::WaitList closed;
};

// appendTo copies a stream into the suite's log as it arrives.
Task<void> appendTo(std::unique_ptr<runtime::Stream> from, std::shared_ptr<LogCopy> log) {
  ++log->open;
  char buf[16384];
  for (;;) {
    auto n = co_await from->read(std::span<char>(buf, sizeof buf));
    if (!n.ok() || *n == 0) break;
    log->file.write(buf, static_cast<std::streamsize>(*n));
    log->file.flush();
  }
  from->close();
  if (--log->open == 0) log->closed.notifyAll();
}

}  // namespace

Task<SuiteResult> runSuite(runtime::Runtime& rt, SuiteSpec spec, RunOptions options) {
  SuiteResult r;
  r.label = spec.label;
  r.ranAt = log::formatTime(rt.loop().clock().wallNanos());
  fs::path dir = fs::path(options.outDir) / suiteDirName(spec.label);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir / "tmp", ec);
  r.xmlPath = (dir / "test.xml").string();
  r.logPath = (dir / "test.log").string();
  auto log = std::make_shared<LogCopy>();
  log->file.open(r.logPath, std::ios::binary | std::ios::trunc);

  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq);
    // A runner started by Bazel (its own tests) must not hand its test
    // protocol files to the suite.
    bool bazelTestVar = k.rfind("TEST_", 0) == 0 || k.rfind("TESTBRIDGE_", 0) == 0 || k.rfind("GTEST_", 0) == 0 ||
                        k.rfind("RUNFILES_", 0) == 0 || k == "XML_OUTPUT_FILE";
    if (!bazelTestVar) env[k] = kv.substr(eq + 1);
  }
  fs::path binary = fs::absolute(spec.binary, ec);
  fs::path runfiles = binary.string() + ".runfiles";
  env["TEST_SRCDIR"] = runfiles.string();
  env["RUNFILES_DIR"] = runfiles.string();
  env["TEST_WORKSPACE"] = "hcsshim_cpp";
  env["TEST_TARGET"] = spec.label;
  env["TEST_TMPDIR"] = fs::absolute(dir / "tmp", ec).string();
  env["XML_OUTPUT_FILE"] = fs::absolute(r.xmlPath, ec).string();
  env["GTEST_OUTPUT"] = "xml:" + env["XML_OUTPUT_FILE"];
  env["TEST_TIMEOUT"] = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(spec.timeout).count());
  for (auto& [k, v] : options.env) env[k] = v;

  runtime::ProcessSpec ps{.path = binary.string(), .args = {binary.string()}, .env = env};
  ps.cwd = fs::is_directory(runfiles / "hcsshim_cpp") ? (runfiles / "hcsshim_cpp").string() : dir.string();
  ps.stdoutMode = runtime::StdioMode::kPipe;
  ps.stderrMode = runtime::StdioMode::kPipe;
  ps.newSession = true;  // one process group: a timeout takes the suite's helpers down with it
  runtime::TimePoint started = rt.loop().now();
  auto proc = rt.processes().spawn(ps);
  if (!proc.ok()) {
    r.end = SuiteEnd::kNotStarted;
    r.cause = "could not start: " + proc.status().toString();
    log->file << r.cause << "\n";
    co_return r;
  }
  runtime::Process& p = **proc;
  int pgid = p.pid();
  runtime::spawn(appendTo(p.takeStdio(1), log));
  runtime::spawn(appendTo(p.takeStdio(2), log));

  bool timedOut = false;
  runtime::TimerId kill = 0;
  runtime::TimerId term = rt.loop().addTimer(spec.timeout, [&] {
    timedOut = true;
    ::kill(-pgid, SIGTERM);
    kill = rt.loop().addTimer(options.killGrace, [pgid] { ::kill(-pgid, SIGKILL); });
  });
  runtime::ExitStatus st = co_await p.wait();
  rt.loop().cancelTimer(term);
  if (kill) rt.loop().cancelTimer(kill);
  // Whatever the suite left behind in its session goes with it.
  ::kill(-pgid, SIGKILL);
  r.seconds = std::chrono::duration<double>(rt.loop().now() - started).count();
  r.exitCode = st.exitCode;
  r.signal = st.signal;
  // The log is complete when every writer (the suite's helpers too) is
  // gone; a helper that escaped the session and keeps the pipe gets 2 s.
  if (log->open > 0) {
    bool late = false;
    auto t = rt.loop().addTimer(std::chrono::seconds(2), [&] {
      late = true;
      log->closed.notifyAll();
    });
    while (log->open > 0 && !late) co_await log->closed.wait();
    rt.loop().cancelTimer(t);
  }
  log->file.close();
  auto xml = runtime::readFile(r.xmlPath, 64 << 20);
  auto text = runtime::readFile(r.logPath, 64 << 20);
  // A timed-out suite ends by our signal; that is the timeout, not a crash.
  if (timedOut) r.signal = 0;
  classify(r, timedOut, xml.value_or(""), xml.has_value(), text.value_or(""), spec.timeout);
  co_return r;
}

}  // namespace hcsshim::conformance
