#include "tools/conformance/cache.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <sstream>
#include <vector>

#include "src/common/json.h"
#include "src/common/sha256.h"
#include "src/runtime/read_file.h"

namespace hcsshim::conformance {

namespace fs = std::filesystem;

std::string ResultCache::fileDigest(const std::string& given) {
  // Runfiles are symlinks: suites share the files they point to (the daemon,
  // the guest agent), so the real path is what is remembered.
  std::error_code ec;
  std::string path = fs::canonical(given, ec).string();
  if (ec) return "";
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return "";
  std::string id = path + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
                   std::to_string(st.st_mtim.tv_nsec);
  if (auto it = digests_.find(id); it != digests_.end()) return it->second;
  if (S_ISDIR(st.st_mode)) return digests_[id] = "dir";
  if (!S_ISREG(st.st_mode)) return digests_[id] = "special";
  auto content = runtime::readFile(path, 1ull << 31);
  if (!content) return "";
  return digests_[id] = sha256Hex(*content);
}

std::string ResultCache::key(const SuiteSpec& spec, const std::string& context) {
  // What the suite runs with: its binary and every file of its runfiles tree
  // (TEST_SRCDIR), by content.
  std::string binaryDigest = fileDigest(spec.binary);
  if (binaryDigest.empty()) return "";
  std::string material = spec.label + "\n" + context + "\n" + binaryDigest + "\n";
  fs::path runfiles = spec.binary + ".runfiles";
  std::error_code ec;
  if (fs::is_directory(runfiles, ec)) {
    std::vector<std::pair<std::string, std::string>> files;
    auto opts = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
    for (auto it = fs::recursive_directory_iterator(runfiles, opts, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it.depth() > 32) return "";  // a symlink loop: do not cache
      if (it->is_directory(ec)) continue;
      std::string d = fileDigest(it->path().string());
      if (d.empty()) return "";
      files.emplace_back(fs::relative(it->path(), runfiles, ec).string(), d);
    }
    if (ec) return "";
    std::sort(files.begin(), files.end());
    for (const auto& [path, d] : files) material += path + " " + d + "\n";
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
