// hcs_api_backend.h: how the portable HCS and HNS API suites
// (hcs_api_conformance_test.cc, hns_api_conformance_test.cc) reach HCS and
// HNS in the build they are part of. One implementation per platform,
// chosen by Bazel:
//   hcs_api_backend_linux.cc   the in-process fake HCS; or, with
//                              HCS_REPLAY=<recording.jsonl>, a recording
//                              served by hcs::ReplayHcsApi (a vendor's or
//                              Wine's run replayed on Linux)
//   hcs_api_backend_windows.cc computecore.dll through ComputeCoreHcs: real
//                              HCS on a Windows host (HCS_BACKEND=hyperv, the
//                              default) or, under Wine, the stand-in DLL that
//                              forwards to the fake daemon (HCS_BACKEND=standin)
// On both, HCS_RECORD=<file> records the scenario's HCS traffic
// (hcs/recording.h); HCS_RECORD=<dir>/ records each scenario of a run to
// <dir>/<scenario>.jsonl, and HCS_REPLAY=<dir>/ replays each from there.
#pragma once

#include <memory>
#include <string>

#include "src/hcs/hcs_api.h"
#include "src/hns/hns_api.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::functional {

class HcsApiBackend {
 public:
  virtual ~HcsApiBackend() = default;
  virtual runtime::EventLoop& loop() = 0;
  virtual hcs::HcsApi& api() = 0;
  // hns: HNS/HCN (the fake's in-process; computenetwork.dll and vmcompute.dll
  // on Windows); null where the backend has none (a replay of HCS traffic).
  virtual hns::HnsApi* hns() = 0;
  // name: "fake", "replay", "standin" or "hyperv".
  virtual std::string name() const = 0;
  // fake: whether compute systems are the fake's (a Container document
  // with no layers runs; its processes are host processes).
  virtual bool fake() const = 0;
  // finish: what went wrong that the scenario could not see ("" if
  // nothing): a replay's divergence, a recording that could not be written.
  virtual std::string finish() = 0;
};

// openHcsApiBackend: this build's backend, per the environment above; a
// null pointer and `error` set when it cannot be opened.
// `scenario` names the recording of HCS_RECORD/HCS_REPLAY directories.
std::unique_ptr<HcsApiBackend> openHcsApiBackend(const std::string& scenario, std::string& error);

}  // namespace hcsshim::functional
