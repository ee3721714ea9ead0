// report.h: the conformance report in three forms - the console (one line
// per scenario, a FAIL line per suite that did not end properly, per-suite
// counts), JUnit XML (assertion failures as <failure>, scenarios a crash,
// signal or timeout cut short as <error>) and a self-contained HTML page a
// vendor can attach to a validation.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "tools/conformance/suite.h"

namespace hcsshim::conformance {

struct RunDescription {
  // What was tested, in order: backend, host kernel, containerd, runc, QEMU, commit...
  std::vector<std::pair<std::string, std::string>> facts;
  bool cachedAllowed = false;  // --cached
  std::string startedAt;
};

struct Totals {
  int passed = 0, failed = 0, errors = 0, skipped = 0, brokenSuites = 0, cachedSuites = 0;
  // ok: every suite ended properly, nothing failed, something passed.
  bool ok() const { return failed == 0 && errors == 0 && brokenSuites == 0 && passed > 0; }
};

Totals count(const std::vector<SuiteResult>& suites);

void printHeader(std::FILE* out, const RunDescription& run);
// printSuite: the suite's scenarios and, for a suite that did not end
// properly, one "FAIL <label>: <cause>" line.
void printSuite(std::FILE* out, const SuiteResult& suite);
void printSummary(std::FILE* out, const std::vector<SuiteResult>& suites);

// Columns: a parameterized suite's scenarios side by side - one row per
// case ("Case" of "Case/param"), one column per parameter (the CRI suite's
// runtime handlers: runhcs next to the runc reference). Rows where the
// columns differ are the ones to explain.
struct Columns {
  std::string group;                 // gtest's suite name (e.g. Handlers/CriTest)
  std::vector<std::string> params;   // in first-seen order
  std::vector<std::pair<std::string, std::vector<const Scenario*>>> rows;  // case -> one per param (null: absent)
};
// columnsOf: the suite's parameterized groups with at least two parameters.
std::vector<Columns> columnsOf(const SuiteResult& suite);

std::string junitXml(const RunDescription& run, const std::vector<SuiteResult>& suites);
std::string htmlReport(const RunDescription& run, const std::vector<SuiteResult>& suites);

}  // namespace hcsshim::conformance
