// hcs_api_backend_common.h: what both platforms' backends share - the
// HCS_RECORD wrapper around whatever HcsApi they open.
#pragma once

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "src/hcs/recording.h"

namespace hcsshim::functional {

// scenarioFile: where scenario `name`'s recording goes or comes from, for
// HCS_RECORD / HCS_REPLAY = `value`: a directory (ending in / or \\) holds
// one <name>.jsonl per scenario - what a whole run records, and what a
// replay of any one scenario reads; otherwise `value` is the file.
inline std::string scenarioFile(const std::string& value, const std::string& name) {
  if (value.empty()) return value;
  char last = value.back();
  return last == '/' || last == '\\' ? value + name + ".jsonl" : value;
}

// Recorder: with HCS_RECORD set, a RecordingHcsApi over `inner` writing
// the scenario's traffic as JSON lines (scenarioFile); else `inner` itself.
class Recorder {
 public:
  Recorder(hcs::HcsApi& inner, runtime::EventLoop& loop, const std::string& scenario) : inner_(inner) {
    const char* value = std::getenv("HCS_RECORD");
    if (!value || !*value) return;
    std::string path = scenarioFile(value, scenario);
    out_ = std::make_shared<std::ofstream>(path, std::ios::trunc);
    if (!*out_) {
      error_ = "HCS_RECORD: cannot write " + path;
      return;
    }
    auto out = out_;
    rec_ = std::make_unique<hcs::RecordingHcsApi>(inner, loop, [out](const std::string& line) { *out << line << "\n" << std::flush; });
  }
  hcs::HcsApi& api() { return rec_ ? static_cast<hcs::HcsApi&>(*rec_) : inner_; }
  std::string error() const { return error_ + (out_ && !*out_ ? "HCS_RECORD: a write failed" : ""); }

 private:
  hcs::HcsApi& inner_;
  std::shared_ptr<std::ofstream> out_;
  std::unique_ptr<hcs::RecordingHcsApi> rec_;
  std::string error_;
};

}  // namespace hcsshim::functional
