// daemon_hns.h: HnsApi over the hcs_fake daemon's socket (the Linux stand-in
// for computenetwork.dll).
//
//   auto api = co_await platforms::DaemonHns::connect(rt, platforms::defaultHcsAddress());
//   hns::HcnClient hcn(**api);
#pragma once

#include <memory>
#include <string>

#include "src/hns/hns_api.h"
#include "src/runtime/runtime.h"
#include "src/ttrpc/client.h"

namespace hcsshim::platforms {

class DaemonHns final : public hns::HnsApi {
 public:
  static runtime::Task<StatusOr<std::unique_ptr<DaemonHns>>> connect(runtime::Runtime& rt, std::string address);
  ~DaemonHns() override;

  runtime::Task<StatusOr<std::string>> enumerate(hns::HcnObject type, std::string query) override;
  runtime::Task<StatusOr<std::string>> create(hns::HcnObject type, std::string id, std::string network,
                                              std::string settings) override;
  runtime::Task<StatusOr<std::string>> query(hns::HcnObject type, std::string id, std::string query) override;
  runtime::Task<Status> modify(hns::HcnObject type, std::string id, std::string settings) override;
  runtime::Task<Status> remove(hns::HcnObject type, std::string id) override;
  runtime::Task<StatusOr<std::string>> hnsCall(std::string method, std::string path, std::string request) override;

  struct State;

 private:
  explicit DaemonHns(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::platforms
