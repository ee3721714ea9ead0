#include "tools/conformance/report.h"

#include <algorithm>
#include <sstream>

namespace hcsshim::conformance {

namespace {

std::string xmlEscape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '&': o += "&amp;"; break;
      case '\n': o += "&#10;"; break;
      case '\t': o += "&#9;"; break;
      case '\r': break;
      default:
        if (c < 0x20) o += "?";  // not allowed in XML 1.0
        else o += static_cast<char>(c);
    }
  }
  return o;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

std::string firstLine(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

const char* freshness(const SuiteResult& s) { return s.cached ? "cached" : "fresh"; }

}  // namespace

Totals count(const std::vector<SuiteResult>& suites) {
  Totals t;
  for (const auto& s : suites) {
    if (!s.ok()) ++t.brokenSuites;
    if (s.cached) ++t.cachedSuites;
    for (const auto& c : s.scenarios) {
      switch (c.outcome) {
        case Outcome::kPass: ++t.passed; break;
        case Outcome::kFail: ++t.failed; break;
        case Outcome::kError: ++t.errors; break;
        case Outcome::kSkip: ++t.skipped; break;
      }
    }
  }
  return t;
}

void printHeader(std::FILE* out, const RunDescription& run) {
  std::fprintf(out, "Conformance run %s\n", run.startedAt.c_str());
  for (const auto& [k, v] : run.facts) std::fprintf(out, "  %-11s %s\n", (k + ":").c_str(), v.c_str());
  std::fprintf(out, "  %-11s %s\n", "results:",
               run.cachedAllowed ? "suites whose inputs did not change are reported from the cache (--cached)"
                                 : "fresh: every suite runs now");
}

std::vector<Columns> columnsOf(const SuiteResult& s) {
  std::vector<Columns> out;
  for (const auto& c : s.scenarios) {
    auto slash = c.name.rfind('/');
    if (slash == std::string::npos || slash == 0) continue;
    std::string base = c.name.substr(0, slash), param = c.name.substr(slash + 1);
    auto g = std::find_if(out.begin(), out.end(), [&](const Columns& x) { return x.group == c.suite; });
    if (g == out.end()) g = out.insert(out.end(), Columns{c.suite, {}, {}});
    auto p = std::find(g->params.begin(), g->params.end(), param);
    size_t col = static_cast<size_t>(p - g->params.begin());
    if (p == g->params.end()) g->params.push_back(param);
    auto row = std::find_if(g->rows.begin(), g->rows.end(), [&](const auto& r) { return r.first == base; });
    if (row == g->rows.end()) row = g->rows.insert(g->rows.end(), {base, {}});
    if (row->second.size() <= col) row->second.resize(col + 1, nullptr);
    row->second[col] = &c;
  }
  std::erase_if(out, [](const Columns& g) { return g.params.size() < 2; });
  for (auto& g : out) {
    for (auto& r : g.rows) r.second.resize(g.params.size(), nullptr);
  }
  return out;
}

void printSuite(std::FILE* out, const SuiteResult& s) {
  std::fprintf(out, "\n%s  (%s, %s s%s)\n", s.label.c_str(), freshness(s), seconds(s.seconds).c_str(),
               s.cached ? (", ran " + s.ranAt).c_str() : "");
  std::string group;
  for (const auto& c : s.scenarios) {
    if (c.suite != group) {
      std::fprintf(out, "  %s\n", c.suite.c_str());
      group = c.suite;
    }
    std::fprintf(out, "    %-5s %-68s %ss\n", outcomeName(c.outcome), c.name.c_str(), seconds(c.seconds).c_str());
    if (c.outcome == Outcome::kFail || c.outcome == Outcome::kError || (c.outcome == Outcome::kSkip && !c.message.empty())) {
      std::istringstream msg(c.message);
      std::string line;
      int shown = 0;
      while (std::getline(msg, line) && shown++ < 10) std::fprintf(out, "          | %s\n", line.c_str());
    }
  }
  if (!s.ok()) std::fprintf(out, "  FAIL  %s: %s (log: %s)\n", s.label.c_str(), s.cause.c_str(), s.logPath.c_str());
  for (const auto& g : columnsOf(s)) {
    std::fprintf(out, "  side by side: %s\n    %-60s", g.group.c_str(), "");
    for (const auto& p : g.params) std::fprintf(out, " %-8s", p.c_str());
    std::fprintf(out, "\n");
    for (const auto& [name, cells] : g.rows) {
      bool differ = false;
      for (const auto* c : cells) differ |= !c || !cells[0] || c->outcome != cells[0]->outcome;
      std::fprintf(out, "    %-60s", name.c_str());
      for (const auto* c : cells) std::fprintf(out, " %-8s", c ? outcomeName(c->outcome) : "-");
      std::fprintf(out, "%s\n", differ ? "  <- differs" : "");
    }
  }
}

void printSummary(std::FILE* out, const std::vector<SuiteResult>& suites) {
  std::fprintf(out, "\nPer suite%*s pass  fail error  skip  result\n", 52, "");
  for (const auto& s : suites) {
    Totals t = count({s});
    std::fprintf(out, "  %-58s %5d %5d %5d %5d  %s%s\n", s.label.c_str(), t.passed, t.failed, t.errors, t.skipped,
                 s.ok() && t.ok() ? "ok" : "FAIL", s.cached ? " (cached)" : "");
  }
  Totals t = count(suites);
  std::fprintf(out, "\n%d suites (%d fresh, %d cached), %d did not end properly\n", static_cast<int>(suites.size()),
               static_cast<int>(suites.size()) - t.cachedSuites, t.cachedSuites, t.brokenSuites);
  std::fprintf(out, "%d passed, %d failed, %d errors, %d skipped\n", t.passed, t.failed, t.errors, t.skipped);
}

std::string junitXml(const RunDescription& run, const std::vector<SuiteResult>& suites) {
  Totals all = count(suites);
  std::ostringstream j;
  double total = 0;
  for (const auto& s : suites) total += s.seconds;
  // A suite that ended badly without a scenario to blame gets one <error> case of its own.
  int extra = 0;
  for (const auto& s : suites) {
    bool blamed = false;
    for (const auto& c : s.scenarios) blamed |= c.outcome == Outcome::kError;
    if (!s.ok() && !blamed) ++extra;
  }
  j << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"conformance\" tests=\""
    << all.passed + all.failed + all.errors + all.skipped + extra << "\" failures=\"" << all.failed << "\" errors=\""
    << all.errors + extra << "\" skipped=\"" << all.skipped << "\" time=\"" << seconds(total) << "\" timestamp=\""
    << xmlEscape(run.startedAt) << "\">\n";
  for (const auto& s : suites) {
    Totals t = count({s});
    bool blamed = t.errors > 0;
    int own = (!s.ok() && !blamed) ? 1 : 0;
    j << "  <testsuite name=\"" << xmlEscape(s.label) << "\" tests=\"" << s.scenarios.size() + own << "\" failures=\""
      << t.failed << "\" errors=\"" << t.errors + own << "\" skipped=\"" << t.skipped << "\" time=\""
      << seconds(s.seconds) << "\" timestamp=\"" << xmlEscape(s.ranAt) << "\">\n";
    j << "    <properties>\n";
    for (const auto& [k, v] : run.facts) {
      j << "      <property name=\"" << xmlEscape(k) << "\" value=\"" << xmlEscape(v) << "\"/>\n";
    }
    j << "      <property name=\"results\" value=\"" << freshness(s) << "\"/>\n";
    if (!s.ok()) j << "      <property name=\"suite-end\" value=\"" << xmlEscape(s.cause) << "\"/>\n";
    j << "    </properties>\n";
    for (const auto& c : s.scenarios) {
      j << "    <testcase classname=\"" << xmlEscape(c.suite) << "\" name=\"" << xmlEscape(c.name) << "\" time=\""
        << seconds(c.seconds) << "\"";
      switch (c.outcome) {
        case Outcome::kPass: j << "/>\n"; break;
        case Outcome::kFail:
          j << ">\n      <failure message=\"" << xmlEscape(firstLine(c.message)) << "\">" << xmlEscape(c.message)
            << "</failure>\n    </testcase>\n";
          break;
        case Outcome::kError:
          j << ">\n      <error message=\"" << xmlEscape(firstLine(c.message)) << "\" type=\"" << xmlEscape(s.cause)
            << "\">" << xmlEscape(c.message) << "</error>\n    </testcase>\n";
          break;
        case Outcome::kSkip:
          j << ">\n      <skipped message=\"" << xmlEscape(c.message) << "\"/>\n    </testcase>\n";
          break;
      }
    }
    if (own) {
      j << "    <testcase classname=\"" << xmlEscape(s.label) << "\" name=\"(suite)\" time=\"" << seconds(s.seconds)
        << "\">\n      <error message=\"" << xmlEscape(s.cause) << "\" type=\"suite\">" << xmlEscape(s.cause)
        << " (log: " << xmlEscape(s.logPath) << ")</error>\n    </testcase>\n";
    }
    j << "  </testsuite>\n";
  }
  j << "</testsuites>\n";
  return j.str();
}

std::string htmlReport(const RunDescription& run, const std::vector<SuiteResult>& suites) {
  Totals all = count(suites);
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Conformance report "
    << xmlEscape(run.startedAt) << "</title>\n<style>\n"
    << "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\n"
    << "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\n"
    << "th{background:#eee}.PASS{background:#dfd}.FAIL,.ERROR{background:#fdd}.SKIP{background:#eee}\n"
    << "pre{margin:0;white-space:pre-wrap;max-width:70em;font-size:.9em}.ok{color:#060}.bad{color:#a00;font-weight:bold}\n"
    << "</style></head><body>\n<h1>Conformance report</h1>\n<p class=\"" << (all.ok() ? "ok" : "bad") << "\">"
    << (all.ok() ? "PASSED" : "FAILED") << ": " << all.passed << " passed, " << all.failed << " failed, " << all.errors
    << " errors, " << all.skipped << " skipped; " << all.brokenSuites << " of " << suites.size()
    << " suites did not end properly</p>\n<table>\n<tr><th>run started</th><td>" << xmlEscape(run.startedAt)
    << "</td></tr>\n";
  for (const auto& [k, v] : run.facts) h << "<tr><th>" << xmlEscape(k) << "</th><td>" << xmlEscape(v) << "</td></tr>\n";
  h << "<tr><th>results</th><td>"
    << (run.cachedAllowed ? "suites whose inputs did not change are reported from the cache (--cached); "
                          : "fresh: every suite ran now; ")
    << all.cachedSuites << " of " << suites.size() << " suites from the cache</td></tr>\n</table>\n";
  h << "<h2>Suites</h2>\n<table>\n<tr><th>suite</th><th>result</th><th>pass</th><th>fail</th><th>error</th><th>skip</th>"
       "<th>time (s)</th><th>ran</th><th>end</th></tr>\n";
  for (const auto& s : suites) {
    Totals t = count({s});
    const char* cls = s.ok() && t.ok() ? "PASS" : "FAIL";
    h << "<tr class=\"" << cls << "\"><td>" << xmlEscape(s.label) << "</td><td>" << cls << "</td><td>" << t.passed
      << "</td><td>" << t.failed << "</td><td>" << t.errors << "</td><td>" << t.skipped << "</td><td>"
      << seconds(s.seconds) << "</td><td>" << xmlEscape(s.ranAt) << (s.cached ? " (cached)" : "") << "</td><td>"
      << xmlEscape(s.ok() ? "completed" : s.cause) << "</td></tr>\n";
  }
  h << "</table>\n";
  for (const auto& s : suites) {
    for (const auto& g : columnsOf(s)) {
      h << "<h2>Side by side: " << xmlEscape(g.group) << "</h2>\n<table>\n<tr><th>case</th>";
      for (const auto& p : g.params) h << "<th>" << xmlEscape(p) << "</th>";
      h << "</tr>\n";
      for (const auto& [name, cells] : g.rows) {
        h << "<tr><td>" << xmlEscape(name) << "</td>";
        for (const auto* c : cells) {
          const char* o = c ? outcomeName(c->outcome) : "-";
          h << "<td class=\"" << o << "\">" << o;
          if (c && c->outcome != Outcome::kPass && !c->message.empty()) h << "<pre>" << xmlEscape(firstLine(c->message)) << "</pre>";
          h << "</td>";
        }
        h << "</tr>\n";
      }
      h << "</table>\n";
    }
  }
  h << "<h2>Scenarios</h2>\n<table>\n<tr><th>suite</th><th>scenario</th><th>result</th><th>time (s)</th>"
       "<th>details</th></tr>\n";
  for (const auto& s : suites) {
    for (const auto& c : s.scenarios) {
      const char* o = outcomeName(c.outcome);
      h << "<tr class=\"" << o << "\"><td>" << xmlEscape(s.label) << "</td><td>" << xmlEscape(c.suite + "." + c.name)
        << "</td><td>" << o << "</td><td>" << seconds(c.seconds) << "</td><td><pre>" << xmlEscape(c.message)
        << "</pre></td></tr>\n";
    }
    if (!s.ok()) {
      h << "<tr class=\"ERROR\"><td>" << xmlEscape(s.label) << "</td><td>(suite)</td><td>ERROR</td><td>"
        << seconds(s.seconds) << "</td><td><pre>" << xmlEscape(s.cause + "\nlog: " + s.logPath) << "</pre></td></tr>\n";
    }
  }
  h << "</table>\n</body></html>\n";
  return h.str();
}

}  // namespace hcsshim::conformance
