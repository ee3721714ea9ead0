// cache.h: results of earlier runs, reused only when asked (--cached).
//
// A suite's key is a digest of its label, the backend and host description
// it ran against, and the content of its binary and of every file in its
// runfiles tree (the daemons and guest agent it starts, its data): a suite whose
// inputs did not change may be reported from the cache, and the report then
// says so, with the time it really ran. Every fresh run is stored, so a
// later --cached run can reuse it.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "tools/conformance/suite.h"

namespace hcsshim::conformance {

class ResultCache {
 public:
  explicit ResultCache(std::string dir) : dir_(std::move(dir)) {}
  // key: "" when the suite's files cannot all be read (never cached).
  std::string key(const SuiteSpec& spec, const std::string& context);
  std::optional<SuiteResult> load(const std::string& key);
  void store(const std::string& key, const SuiteResult& result);

 private:
  std::string fileDigest(const std::string& path);
  std::string dir_;
  std::map<std::string, std::string> digests_;  // path|size|mtime -> digest
};

}  // namespace hcsshim::conformance
