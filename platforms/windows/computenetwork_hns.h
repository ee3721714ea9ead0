// computenetwork_hns.h: the HnsApi seam over Windows' computenetwork.dll
// (HCN, the v2 API) and vmcompute.dll's HNSCall (the v1 API); facts:
// windows-platform.md, hns-hcn.md.
//
//   runtime::ThreadedEventLoop loop;
//   ComputeNetworkHns hns(loop);
//   auto ids = runtime::blockOn(loop, hns.enumerate(hns::HcnObject::kNetwork, ""));
//
// Every HCN call blocks, so each runs on a thread of its own and resumes on
// the loop (blocking.h). Ids cross as GUIDs (an id that is not one is
// InvalidArgument before HCN sees it; "" on create asks HCN for one),
// documents as UTF-16; returned strings are freed with CoTaskMemFree. A call
// fails when its HRESULT does or when its error record is not empty (as
// hcsshim treats them): schema::statusFromResult of both. query is
// HcnOpen + HcnQuery...Properties + HcnClose; create closes its handle too.
// HNSCall answers {Success, Error, Output}: Output on success, else the
// Error text (E_FAIL).
//
// The DLLs are loaded at the first call (System32 only), each export when
// first needed: Unavailable "computenetwork.dll could not be loaded: error
// 126 ..." on a host without HNS.
#pragma once

#include <memory>

#include "platforms/windows/dll.h"
#include "src/hns/hns_api.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::platforms::windows {

class ComputeNetworkHns final : public hns::HnsApi {
 public:
  explicit ComputeNetworkHns(runtime::EventLoop& loop);
  ~ComputeNetworkHns() override;

  runtime::Task<StatusOr<std::string>> enumerate(hns::HcnObject type, std::string query) override;
  runtime::Task<StatusOr<std::string>> create(hns::HcnObject type, std::string id, std::string network,
                                              std::string settings) override;
  runtime::Task<StatusOr<std::string>> query(hns::HcnObject type, std::string id, std::string query) override;
  runtime::Task<Status> modify(hns::HcnObject type, std::string id, std::string settings) override;
  runtime::Task<Status> remove(hns::HcnObject type, std::string id) override;
  runtime::Task<StatusOr<std::string>> hnsCall(std::string method, std::string path, std::string request) override;

 private:
  struct State;
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::platforms::windows
