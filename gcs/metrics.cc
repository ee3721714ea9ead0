#include "gcs/metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace hcsshim::gcs {

namespace fs = std::filesystem;

namespace {

// readNumber: the first number in a file; "max" is 2^64-1 (no limit).
std::optional<uint64_t> readNumber(const std::string& file) {
  std::ifstream in(file);
  std::string word;
  if (!(in >> word)) return std::nullopt;
  if (word == "max") return UINT64_MAX;
  try {
    return std::stoull(word);
  } catch (...) {
    return std::nullopt;
  }
}

// readKeyed: "key value" lines (memory.stat, cpu.stat, cpuacct.stat).
std::map<std::string, uint64_t> readKeyed(const std::string& file) {
  std::map<std::string, uint64_t> out;
  std::ifstream in(file);
  std::string key;
  uint64_t value;
  while (in >> key >> value) out[key] = value;
  return out;
}

void put(Json& j, const char* key, std::optional<uint64_t> v) {
  if (v) j[key] = *v;
}

}  // namespace

StatusOr<Json> cgroupMetrics(const std::string& root, const std::string& path) {
  Json m = Json::object();
  bool v2 = fs::exists(root + "/cgroup.controllers");
  if (v2) {
    std::string d = root + path;
    if (!fs::is_directory(d)) return NotFoundError("no cgroup " + d);
    Json pids = Json::object();
    put(pids, "current", readNumber(d + "/pids.current"));
    put(pids, "limit", readNumber(d + "/pids.max"));
    m["pids"] = pids;
    auto cpu = readKeyed(d + "/cpu.stat");
    m["cpu"]["usage"] = {{"total", cpu["usage_usec"] * 1000}, {"user", cpu["user_usec"] * 1000},
                         {"kernel", cpu["system_usec"] * 1000}};
    auto stat = readKeyed(d + "/memory.stat");
    Json usage = Json::object();
    put(usage, "usage", readNumber(d + "/memory.current"));
    put(usage, "limit", readNumber(d + "/memory.max"));
    put(usage, "max", readNumber(d + "/memory.peak"));
    m["memory"] = {{"cache", stat["file"]}, {"rss", stat["anon"]}, {"usage", usage}};
    return m;
  }
  bool any = false;
  std::string pidsDir = root + "/pids" + path;
  if (fs::is_directory(pidsDir)) {
    any = true;
    Json pids = Json::object();
    put(pids, "current", readNumber(pidsDir + "/pids.current"));
    put(pids, "limit", readNumber(pidsDir + "/pids.max"));
    m["pids"] = pids;
  }
  std::string cpuDir = root + "/cpuacct" + path;
  if (fs::is_directory(cpuDir)) {
    any = true;
    Json usage = Json::object();
    put(usage, "total", readNumber(cpuDir + "/cpuacct.usage"));
    put(usage, "user", readNumber(cpuDir + "/cpuacct.usage_user"));
    put(usage, "kernel", readNumber(cpuDir + "/cpuacct.usage_sys"));
    m["cpu"]["usage"] = usage;
  }
  std::string memDir = root + "/memory" + path;
  if (fs::is_directory(memDir)) {
    any = true;
    auto stat = readKeyed(memDir + "/memory.stat");
    Json usage = Json::object();
    put(usage, "usage", readNumber(memDir + "/memory.usage_in_bytes"));
    put(usage, "limit", readNumber(memDir + "/memory.limit_in_bytes"));
    put(usage, "max", readNumber(memDir + "/memory.max_usage_in_bytes"));
    put(usage, "failcnt", readNumber(memDir + "/memory.failcnt"));
    m["memory"] = {{"cache", stat["cache"]}, {"rss", stat["rss"]}, {"usage", usage}};
  }
  if (!any) return NotFoundError("no cgroup " + path + " under " + root);
  return m;
}

void removeEmptyCgroup(const std::string& root, const std::string& path) {
  std::error_code ec;
  if (fs::exists(root + "/cgroup.controllers")) {
    ::rmdir((root + path).c_str());
    return;
  }
  for (const auto& h : fs::directory_iterator(root, ec)) {
    ::rmdir((h.path().string() + path).c_str());  // fails harmlessly unless empty
  }
}

}  // namespace hcsshim::gcs
