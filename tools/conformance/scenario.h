// scenario.h: what a conformance suite reported, read from gtest's XML
// report or, when the suite died before writing one, from its log.
//
//   auto cases = parseGtestXml(xmlText);   // InvalidArgument on broken XML
//   auto partial = parseGtestLog(logText); // every scenario that started
#pragma once

#include <string>
#include <vector>

#include "src/common/status.h"

namespace hcsshim::conformance {

// Outcome of one scenario. kError is a scenario that did not finish: the
// suite crashed, was killed or timed out while it ran (JUnit <error>), as
// opposed to kFail, a scenario whose checks failed (JUnit <failure>).
enum class Outcome { kPass, kFail, kError, kSkip };
const char* outcomeName(Outcome o);  // PASS, FAIL, ERROR, SKIP

struct Scenario {
  std::string suite;  // gtest's test suite (classname)
  std::string name;
  double seconds = 0;
  Outcome outcome = Outcome::kPass;
  std::string message;  // failure text, skip reason or error cause
};

// parseGtestXml: the <testcase> elements of gtest's XML report, with their
// <failure> text and <skipped> reasons.
StatusOr<std::vector<Scenario>> parseGtestXml(const std::string& xml);

// parseGtestLog: scenarios from gtest's console output ([ RUN ] / [ OK ] /
// [ FAILED ] / [ SKIPPED ] lines). A scenario that started and never ended
// is the last element with outcome kError and message "did not finish".
std::vector<Scenario> parseGtestLog(const std::string& log);

}  // namespace hcsshim::conformance
