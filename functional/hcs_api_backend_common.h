// hcs_api_backend_common.h: what both platforms' backends share - the
// HCS_RECORD wrapper around whatever HcsApi they open.
#pragma once

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "src/hcs/recording.h"

namespace hcsshim::functional {

// Recorder: with HCS_RECORD=<file> set, a RecordingHcsApi over `inner`
// writing JSON lines to that file (appended: one suite run, several
// scenarios); else `inner` itself.
class Recorder {
 public:
  Recorder(hcs::HcsApi& inner, runtime::EventLoop& loop) : inner_(inner) {
    const char* path = std::getenv("HCS_RECORD");
    if (!path || !*path) return;
    out_ = std::make_shared<std::ofstream>(path, std::ios::app);
    if (!*out_) {
      error_ = std::string("HCS_RECORD: cannot write ") + path;
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
