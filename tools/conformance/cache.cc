#include "tools/conformance/cache.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/common/json.h"
#include "src/common/sha256.h"
#include "src/runtime/read_file.h"

namespace hcsshim::conformance {

namespace fs = std::filesystem;

std::string ResultCache::fileDigest(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return "";
  std::string id = path + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
                   std::to_string(st.st_mtim.tv_nsec);
  if (auto it = digests_.find(id); it != digests_.end()) return it->second;
  if (S_ISDIR(st.st_mode)) return digests_[id] = "dir";
  auto content = runtime::readFile(path, 1ull << 31);
  if (!content) return "";
  return digests_[id] = sha256Hex(*content);
}

std::string ResultCache::key(const SuiteSpec& spec, const std::string& context) {
  // The runfiles manifest lists every runfile: "<runfiles path> <real path>".
  std::error_code ec;
  std::string binary = fs::canonical(spec.binary, ec).string();
  if (ec) return "";
  auto manifest = runtime::readFile(binary + ".runfiles_manifest", 16 << 20);
  if (!manifest) return "";
  std::string material = spec.label + "\n" + context + "\n" + fileDigest(binary) + "\n";
  std::istringstream in(*manifest);
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) {
      material += line + "\n";  // an empty file
      continue;
    }
    std::string d = fileDigest(line.substr(sp + 1));
    if (d.empty()) return "";
    material += line.substr(0, sp) + " " + d + "\n";
  }
  return sha256Hex(material);
}

std::optional<SuiteResult> ResultCache::load(const std::string& key) {
  if (key.empty()) return std::nullopt;
  fs::path d = fs::path(dir_) / key;
  auto text = runtime::readFile((d / "result.json").string(), 64 << 20);
  if (!text) return std::nullopt;
  auto j = parseJson(*text);
  if (!j.ok() || !j->is_object()) return std::nullopt;
  try {
    SuiteResult r;
    r.label = j->at("label").get<std::string>();
    r.end = static_cast<SuiteEnd>(j->at("end").get<int>());
    r.exitCode = j->at("exitCode").get<int>();
    r.signal = j->at("signal").get<int>();
    r.seconds = j->at("seconds").get<double>();
    r.cause = j->at("cause").get<std::string>();
    r.ranAt = j->at("ranAt").get<std::string>();
    for (const auto& s : j->at("scenarios")) {
      Scenario sc;
      sc.suite = s.at("suite").get<std::string>();
      sc.name = s.at("name").get<std::string>();
      sc.seconds = s.at("seconds").get<double>();
      sc.outcome = static_cast<Outcome>(s.at("outcome").get<int>());
      sc.message = s.at("message").get<std::string>();
      r.scenarios.push_back(std::move(sc));
    }
    r.xmlPath = (d / "test.xml").string();
    r.logPath = (d / "test.log").string();
    r.cached = true;
    return r;
  } catch (const Json::exception&) {
    return std::nullopt;  // an old or damaged entry: run afresh
  }
}

void ResultCache::store(const std::string& key, const SuiteResult& r) {
  if (key.empty()) return;
  fs::path d = fs::path(dir_) / key;
  std::error_code ec;
  fs::create_directories(d, ec);
  Json j = {{"label", r.label}, {"end", static_cast<int>(r.end)}, {"exitCode", r.exitCode}, {"signal", r.signal},
            {"seconds", r.seconds}, {"cause", r.cause}, {"ranAt", r.ranAt}, {"scenarios", Json::array()}};
  for (const auto& s : r.scenarios) {
    j["scenarios"].push_back({{"suite", s.suite}, {"name", s.name}, {"seconds", s.seconds},
                              {"outcome", static_cast<int>(s.outcome)}, {"message", s.message}});
  }
  fs::copy_file(r.xmlPath, d / "test.xml", fs::copy_options::overwrite_existing, ec);
  fs::copy_file(r.logPath, d / "test.log", fs::copy_options::overwrite_existing, ec);
  std::ofstream((d / "result.json.tmp").string()) << jsonText(j);
  fs::rename(d / "result.json.tmp", d / "result.json", ec);
}

}  // namespace hcsshim::conformance
