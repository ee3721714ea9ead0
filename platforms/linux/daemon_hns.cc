#include "platforms/linux/daemon_hns.h"

#include "hcs_fake/api/hcs_fake.pb.h"
#include "src/common/hresult.h"

namespace hcsshim::platforms {

using runtime::Task;
namespace pb = ::hcsshim::hcsfake::v1;

namespace {
constexpr char kService[] = "hcsshim.hcsfake.v1.Hns";
}

struct DaemonHns::State {
  std::string address;
  std::unique_ptr<ttrpc::Client> client;
};

namespace {

Task<StatusOr<std::string>> call(std::shared_ptr<DaemonHns::State> s, pb::HnsRequest req) {
  auto r = co_await s->client->call<pb::HnsRequest, pb::DocumentResponse>(kService, "Call", std::move(req));
  if (!r.ok() && r.status().code() == Code::kUnavailable && r.status().hresult() == hresultFromCode(Code::kUnavailable)) {
    co_return Status::fromHResult(hresult::kHcsConnectionClosed, "HNS", s->address, r.status().message());
  }
  if (!r.ok()) co_return r.status();
  co_return r->document();
}

pb::HnsRequest request(pb::HnsRequest::Op op, hns::HcnObject type, const std::string& id, const std::string& doc) {
  pb::HnsRequest req;
  req.set_op(op);
  req.set_object(static_cast<uint32_t>(type));
  req.set_id(id);
  req.set_document(doc);
  return req;
}

}  // namespace

Task<StatusOr<std::unique_ptr<DaemonHns>>> DaemonHns::connect(runtime::Runtime& rt, std::string address) {
  auto client = co_await ttrpc::Client::connect(rt, address);
  if (!client.ok()) {
    co_return Status::fromHResult(hresult::kHcsServiceNotAvailable, "connect", address,
                                  "the HNS service is not available: " + client.status().message());
  }
  auto s = std::make_shared<State>(State{address, std::move(*client)});
  co_return std::unique_ptr<DaemonHns>(new DaemonHns(s));
}

DaemonHns::~DaemonHns() { s_->client->close(); }

Task<StatusOr<std::string>> DaemonHns::enumerate(hns::HcnObject type, std::string query) {
  co_return co_await call(s_, request(pb::HnsRequest::ENUMERATE, type, "", query));
}
Task<StatusOr<std::string>> DaemonHns::create(hns::HcnObject type, std::string id, std::string network,
                                              std::string settings) {
  pb::HnsRequest req = request(pb::HnsRequest::CREATE, type, id, settings);
  req.set_network(network);
  co_return co_await call(s_, std::move(req));
}
Task<StatusOr<std::string>> DaemonHns::query(hns::HcnObject type, std::string id, std::string query) {
  co_return co_await call(s_, request(pb::HnsRequest::QUERY, type, id, query));
}
Task<Status> DaemonHns::modify(hns::HcnObject type, std::string id, std::string settings) {
  auto r = co_await call(s_, request(pb::HnsRequest::MODIFY, type, id, settings));
  co_return r.status();
}
Task<Status> DaemonHns::remove(hns::HcnObject type, std::string id) {
  auto r = co_await call(s_, request(pb::HnsRequest::DELETE, type, id, ""));
  co_return r.status();
}
Task<StatusOr<std::string>> DaemonHns::hnsCall(std::string method, std::string path, std::string body) {
  pb::HnsRequest req = request(pb::HnsRequest::HNS_CALL, hns::HcnObject::kNetwork, "", body);
  req.set_method(method);
  req.set_path(path);
  co_return co_await call(s_, std::move(req));
}

}  // namespace hcsshim::platforms
