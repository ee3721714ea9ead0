// The portable HCS API suite's backend on Windows: computecore.dll through
// ComputeCoreHcs - real HCS (HCS_BACKEND=hyperv, the default) or, under
// Wine, the stand-in DLL forwarding to the fake daemon (HCS_BACKEND=standin).
#include "functional/hcs_api_backend.h"

#include <windows.h>

#include <cstdlib>

#include "functional/hcs_api_backend_common.h"
#include "platforms/windows/computecore_hcs.h"
#include "platforms/windows/computenetwork_hns.h"
#include "src/runtime/threaded_loop.h"

namespace hcsshim::functional {
namespace {

class ComputeCoreBackend final : public HcsApiBackend {
 public:
  ComputeCoreBackend(std::string name, const std::string& scenario)
      : name_(std::move(name)), hcs_(loop_), recorder_(hcs_, loop_, scenario), hns_(loop_) {}
  runtime::EventLoop& loop() override { return loop_; }
  hcs::HcsApi& api() override { return recorder_.api(); }
  hns::HnsApi* hns() override { return &hns_; }
  std::string name() const override { return name_; }
  bool fake() const override { return name_ == "standin"; }
  std::string finish() override { return recorder_.error(); }

 private:
  std::string name_;
  runtime::ThreadedEventLoop loop_;
  platforms::windows::ComputeCoreHcs hcs_;
  Recorder recorder_;
  platforms::windows::ComputeNetworkHns hns_;
};

}  // namespace

std::unique_ptr<HcsApiBackend> openHcsApiBackend(const std::string& scenario, std::string& error) {
  const char* b = std::getenv("HCS_BACKEND");
  std::string name = b && *b ? b : "hyperv";
  if (name != "hyperv" && name != "standin") {
    error = "HCS_BACKEND=" + name + ": the Windows build runs against computecore.dll: hyperv (real HCS) or standin (Wine)";
    return nullptr;
  }
  return std::make_unique<ComputeCoreBackend>(name, scenario);
}

}  // namespace hcsshim::functional
