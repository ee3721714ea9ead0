#include "tools/conformance/scenario.h"

#include <cctype>
#include <cstdlib>
#include <optional>
#include <map>
#include <sstream>

namespace hcsshim::conformance {

const char* outcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "PASS";
    case Outcome::kFail: return "FAIL";
    case Outcome::kError: return "ERROR";
    case Outcome::kSkip: return "SKIP";
  }
  return "?";
}

namespace {

// A minimal XML reader for gtest's reports: elements, attributes, text,
// CDATA, comments and the five entities plus numeric references.
struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::vector<Element> children;
  std::string text;
};

std::string decodeEntities(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string::npos) {
      out += s[i];
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "amp") out += '&';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X') ? std::strtol(std::string(ent.substr(2)).c_str(), nullptr, 16)
                                                                   : std::strtol(std::string(ent.substr(1)).c_str(), nullptr, 10);
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xE0 | ((cp >> 12) & 0x0F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

class XmlReader {
 public:
  explicit XmlReader(const std::string& s) : s_(s) {}

  StatusOr<Element> document() {
    skipProlog();
    if (pos_ >= s_.size() || s_[pos_] != '<') return error("no root element");
    return element(0);
  }

 private:
  Status error(const std::string& what) const {
    return InvalidArgumentError("XML report: " + what + " at byte " + std::to_string(pos_));
  }
  void skipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void skipProlog() {
    for (;;) {
      skipSpace();
      if (s_.compare(pos_, 2, "<?") == 0) {
        size_t e = s_.find("?>", pos_);
        pos_ = e == std::string::npos ? s_.size() : e + 2;
      } else if (s_.compare(pos_, 4, "<!--") == 0) {
        size_t e = s_.find("-->", pos_);
        pos_ = e == std::string::npos ? s_.size() : e + 3;
      } else if (s_.compare(pos_, 2, "<!") == 0) {
        size_t e = s_.find('>', pos_);
        pos_ = e == std::string::npos ? s_.size() : e + 1;
      } else {
        return;
      }
    }
  }
  StatusOr<Element> element(int depth) {
    if (depth > 64) return error("elements nested too deeply");
    Element el;
    ++pos_;  // '<'
    size_t start = pos_;
    while (pos_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[pos_])) && s_[pos_] != '>' && s_[pos_] != '/') ++pos_;
    el.name = s_.substr(start, pos_ - start);
    if (el.name.empty()) return error("an element without a name");
    for (;;) {
      skipSpace();
      if (pos_ >= s_.size()) return error("unterminated <" + el.name + ">");
      if (s_[pos_] == '/') {
        if (s_.compare(pos_, 2, "/>") != 0) return error("stray '/' in <" + el.name + ">");
        pos_ += 2;
        return el;
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      size_t ns = pos_;
      while (pos_ < s_.size() && s_[pos_] != '=' && !std::isspace(static_cast<unsigned char>(s_[pos_])) && s_[pos_] != '>') ++pos_;
      std::string key = s_.substr(ns, pos_ - ns);
      skipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '=') return error("attribute " + key + " without a value");
      ++pos_;
      skipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) return error("attribute " + key + " is not quoted");
      char q = s_[pos_++];
      size_t e = s_.find(q, pos_);
      if (e == std::string::npos) return error("attribute " + key + " is not terminated");
      el.attrs[key] = decodeEntities(std::string_view(s_).substr(pos_, e - pos_));
      pos_ = e + 1;
    }
    for (;;) {
      if (pos_ >= s_.size()) return error("<" + el.name + "> is not closed");
      if (s_.compare(pos_, 9, "<![CDATA[") == 0) {
        size_t e = s_.find("]]>", pos_ + 9);
        if (e == std::string::npos) return error("unterminated CDATA");
        el.text += s_.substr(pos_ + 9, e - pos_ - 9);
        pos_ = e + 3;
      } else if (s_.compare(pos_, 4, "<!--") == 0) {
        size_t e = s_.find("-->", pos_);
        if (e == std::string::npos) return error("unterminated comment");
        pos_ = e + 3;
      } else if (s_.compare(pos_, 2, "</") == 0) {
        size_t e = s_.find('>', pos_);
        if (e == std::string::npos) return error("unterminated closing tag");
        std::string name = s_.substr(pos_ + 2, e - pos_ - 2);
        while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
        if (name != el.name) return error("</" + name + "> closes <" + el.name + ">");
        pos_ = e + 1;
        return el;
      } else if (s_[pos_] == '<') {
        HCS_ASSIGN_OR_RETURN(Element child, element(depth + 1));
        el.children.push_back(std::move(child));
      } else {
        size_t e = s_.find('<', pos_);
        if (e == std::string::npos) e = s_.size();
        el.text += decodeEntities(std::string_view(s_).substr(pos_, e - pos_));
        pos_ = e;
      }
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
};

void collect(const Element& el, std::vector<Scenario>& out) {
  if (el.name != "testcase") {
    for (const auto& c : el.children) collect(c, out);
    return;
  }
  Scenario sc;
  auto attr = [&](const char* k) {
    auto it = el.attrs.find(k);
    return it == el.attrs.end() ? std::string() : it->second;
  };
  sc.suite = attr("classname");
  sc.name = attr("name");
  sc.seconds = std::atof(attr("time").c_str());
  if (attr("result") == "skipped" || attr("status") == "notrun") sc.outcome = Outcome::kSkip;
  for (const auto& c : el.children) {
    if (c.name == "failure" || c.name == "error") {
      sc.outcome = c.name == "failure" ? Outcome::kFail : Outcome::kError;
      std::string text = c.text.empty() ? (c.attrs.count("message") ? c.attrs.at("message") : "") : c.text;
      if (!sc.message.empty()) sc.message += "\n";
      sc.message += text;
    } else if (c.name == "skipped" && (sc.outcome == Outcome::kPass || sc.outcome == Outcome::kSkip)) {
      sc.outcome = Outcome::kSkip;
      sc.message = !c.text.empty() ? c.text : c.attrs.count("message") ? c.attrs.at("message") : "";
    }
  }
  out.push_back(std::move(sc));
}

}  // namespace

StatusOr<std::vector<Scenario>> parseGtestXml(const std::string& xml) {
  XmlReader reader(xml);
  HCS_ASSIGN_OR_RETURN(Element root, reader.document());
  std::vector<Scenario> out;
  collect(root, out);
  return out;
}

std::vector<Scenario> parseGtestLog(const std::string& log) {
  std::vector<Scenario> out;
  std::istringstream in(log);
  std::string line;
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t running = kNone;  // index into out (a plain index: GCC -O2 warns on std::optional here)
  std::string body;
  auto split = [](const std::string& full, Scenario& sc) {
    auto dot = full.find('.');
    sc.suite = dot == std::string::npos ? "" : full.substr(0, dot);
    sc.name = dot == std::string::npos ? full : full.substr(dot + 1);
  };
  while (std::getline(in, line)) {
    auto marker = [&](const char* m) { return line.rfind(m, 0) == 0; };
    // "[       OK ] Suite.Name (12 ms)"
    auto nameAndTime = [&](Scenario& sc) {
      std::string rest = line.substr(13);
      auto paren = rest.rfind(" (");
      if (paren != std::string::npos && rest.size() > 4 && rest.compare(rest.size() - 4, 4, " ms)") == 0) {
        sc.seconds = std::atof(rest.substr(paren + 2).c_str()) / 1000.0;
        rest = rest.substr(0, paren);
      }
      return rest;
    };
    if (marker("[ RUN      ] ")) {
      Scenario sc;
      split(line.substr(13), sc);
      sc.outcome = Outcome::kError;
      sc.message = "did not finish";
      out.push_back(std::move(sc));
      running = out.size() - 1;
      body.clear();
    } else if (running != kNone && (marker("[       OK ] ") || marker("[  FAILED  ] ") || marker("[  SKIPPED ] "))) {
      Scenario probe;
      std::string full = nameAndTime(probe);
      Scenario& sc = out[running];
      if (full != sc.suite + "." + sc.name) continue;
      sc.seconds = probe.seconds;
      sc.outcome = marker("[       OK ] ") ? Outcome::kPass : marker("[  FAILED  ] ") ? Outcome::kFail : Outcome::kSkip;
      sc.message = sc.outcome == Outcome::kPass ? "" : body;
      running = kNone;
    } else if (running != kNone) {
      if (body.size() < 16384) body += line + "\n";
    }
  }
  return out;
}

}  // namespace hcsshim::conformance
