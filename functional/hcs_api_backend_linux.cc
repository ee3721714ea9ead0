// The portable HCS API suite's backend on Linux: the in-process fake HCS,
// or a recording replayed (HCS_REPLAY).
#include "functional/hcs_api_backend.h"

#include <cstdlib>

#include "functional/hcs_api_backend_common.h"
#include "hcs_fake/hns.h"
#include "hcs_fake/service.h"
#include "src/runtime/read_file.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::functional {
namespace {

class FakeBackend final : public HcsApiBackend {
 public:
  FakeBackend(std::unique_ptr<runtime::RealRuntime> rt, const std::string& scenario)
      : rt_(std::move(rt)), service_(*rt_), inner_(service_), recorder_(inner_, rt_->loop(), scenario), fakeHns_(hcs_fake::FakeHnsOptions{}),
        hns_(fakeHns_) {}
  ~FakeBackend() override { runtime::blockOn(rt_->loop(), service_.shutdownService()); }
  runtime::EventLoop& loop() override { return rt_->loop(); }
  hcs::HcsApi& api() override { return recorder_.api(); }
  hns::HnsApi* hns() override { return &hns_; }
  std::string name() const override { return "fake"; }
  bool fake() const override { return true; }
  std::string finish() override { return recorder_.error(); }

 private:
  std::unique_ptr<runtime::RealRuntime> rt_;
  hcs_fake::FakeHcsService service_;
  hcs_fake::InProcessHcs inner_;
  Recorder recorder_;
  hcs_fake::FakeHns fakeHns_;
  hcs_fake::InProcessHns hns_;
};

class ReplayBackend final : public HcsApiBackend {
 public:
  ReplayBackend(std::unique_ptr<runtime::RealRuntime> rt, std::unique_ptr<hcs::ReplayHcsApi> replay)
      : rt_(std::move(rt)), replay_(std::move(replay)) {}
  runtime::EventLoop& loop() override { return rt_->loop(); }
  hcs::HcsApi& api() override { return *replay_; }
  hns::HnsApi* hns() override { return nullptr; }
  std::string name() const override { return "replay"; }
  bool fake() const override { return true; }  // it answers as the recorded HCS did
  std::string finish() override {
    std::string d = replay_->divergence();
    if (d.empty() && replay_->remaining() != 0) {
      d = std::to_string(replay_->remaining()) + " recorded calls were not made";
    }
    return d;
  }

 private:
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::unique_ptr<hcs::ReplayHcsApi> replay_;
};

}  // namespace

std::unique_ptr<HcsApiBackend> openHcsApiBackend(const std::string& scenario, std::string& error) {
  auto rt = runtime::RealRuntime::create("hcs-api-conformance");
  if (!rt.ok()) {
    error = rt.status().toString();
    return nullptr;
  }
  const char* value = std::getenv("HCS_REPLAY");
  if (value && *value) {
    std::string replay = scenarioFile(value, scenario);
    auto text = runtime::readFile(replay, 64 << 20);
    if (!text) {
      error = "HCS_REPLAY: cannot read " + replay;
      return nullptr;
    }
    auto r = hcs::ReplayHcsApi::load((*rt)->loop(), *text);
    if (!r.ok()) {
      error = "HCS_REPLAY " + replay + ": " + r.status().toString();
      return nullptr;
    }
    return std::make_unique<ReplayBackend>(std::move(*rt), std::move(*r));
  }
  return std::make_unique<FakeBackend>(std::move(*rt), scenario);
}

}  // namespace hcsshim::functional
