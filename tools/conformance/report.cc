// conformance_report: turns the gtest XML files of the functional suites into
// a readable report and one merged JUnit XML file.
//
//   conformance_report --junit out/junit.xml bazel-testlogs/functional/*/test.xml
//
// Prints one line per scenario (PASS/FAIL/SKIP, suite.name, time) and the
// failure messages, then "N passed, N failed, N skipped". Exit status 1 if
// anything failed or no scenario ran.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Case {
  std::string suite, name, time, status, message;
};

std::string attr(const std::string& tag, const std::string& name) {
  std::string key = " " + name + "=\"";
  auto p = tag.find(key);
  if (p == std::string::npos) return {};
  p += key.size();
  auto e = tag.find('"', p);
  return tag.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

std::string unescape(std::string s) {
  const std::pair<const char*, const char*> ents[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&#x0A;", "\n"}, {"&amp;", "&"}};
  for (auto& [from, to] : ents) {
    std::string f(from);
    for (size_t p = s.find(f); p != std::string::npos; p = s.find(f, p + 1)) s.replace(p, f.size(), to);
  }
  return s;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '&': o += "&amp;"; break;
      default: o += c;
    }
  }
  return o;
}

// parse extracts <testcase> elements from a gtest XML report.
std::vector<Case> parse(const std::string& xml) {
  std::vector<Case> out;
  size_t pos = 0;
  while ((pos = xml.find("<testcase ", pos)) != std::string::npos) {
    size_t tagEnd = xml.find('>', pos);
    if (tagEnd == std::string::npos) break;
    std::string tag = xml.substr(pos, tagEnd - pos + 1);
    Case c;
    c.suite = attr(tag, "classname");
    c.name = attr(tag, "name");
    c.time = attr(tag, "time");
    std::string result = attr(tag, "result");
    bool selfClosing = tag.size() >= 2 && tag[tag.size() - 2] == '/';
    std::string body;
    if (!selfClosing) {
      size_t close = xml.find("</testcase>", tagEnd);
      body = xml.substr(tagEnd + 1, close == std::string::npos ? std::string::npos : close - tagEnd - 1);
      pos = close == std::string::npos ? xml.size() : close;
    } else {
      pos = tagEnd;
    }
    if (body.find("<failure") != std::string::npos) {
      c.status = "FAIL";
      size_t f = body.find("<failure");
      c.message = unescape(attr(body.substr(f, body.find('>', f) - f + 1), "message"));
    } else if (result == "skipped" || body.find("<skipped") != std::string::npos) {
      c.status = "SKIP";
    } else {
      c.status = "PASS";
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string junitPath;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--junit" && i + 1 < argc) {
      junitPath = argv[++i];
    } else {
      files.push_back(a);
    }
  }
  std::vector<Case> all;
  for (auto& f : files) {
    std::ifstream in(f);
    if (!in) {
      std::cerr << "conformance_report: cannot read " << f << "\n";
      continue;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto cases = parse(ss.str());
    all.insert(all.end(), cases.begin(), cases.end());
  }
  int passed = 0, failed = 0, skipped = 0;
  std::string lastSuite;
  for (auto& c : all) {
    if (c.suite != lastSuite) {
      std::printf("\n%s\n", c.suite.c_str());
      lastSuite = c.suite;
    }
    std::printf("  %-4s %-70s %ss\n", c.status.c_str(), c.name.c_str(), c.time.c_str());
    if (c.status == "FAIL") {
      ++failed;
      std::istringstream msg(c.message);
      std::string line;
      int shown = 0;
      while (std::getline(msg, line) && shown++ < 8) std::printf("         | %s\n", line.c_str());
    } else if (c.status == "SKIP") {
      ++skipped;
    } else {
      ++passed;
    }
  }
  if (!junitPath.empty()) {
    std::ofstream j(junitPath);
    j << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"conformance\" tests=\"" << all.size()
      << "\" failures=\"" << failed << "\" skipped=\"" << skipped << "\">\n";
    std::map<std::string, std::vector<const Case*>> bySuite;
    for (auto& c : all) bySuite[c.suite].push_back(&c);
    for (auto& [suite, cases] : bySuite) {
      j << "  <testsuite name=\"" << escape(suite) << "\" tests=\"" << cases.size() << "\">\n";
      for (auto* c : cases) {
        j << "    <testcase classname=\"" << escape(suite) << "\" name=\"" << escape(c->name) << "\" time=\""
          << escape(c->time) << "\"";
        if (c->status == "FAIL") {
          j << "><failure message=\"" << escape(c->message) << "\"/></testcase>\n";
        } else if (c->status == "SKIP") {
          j << "><skipped/></testcase>\n";
        } else {
          j << "/>\n";
        }
      }
      j << "  </testsuite>\n";
    }
    j << "</testsuites>\n";
    std::printf("\nJUnit XML: %s\n", junitPath.c_str());
  }
  std::printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return (failed > 0 || passed == 0) ? 1 : 0;
}
