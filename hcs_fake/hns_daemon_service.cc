#include "hcs_fake/hns_daemon_service.h"

#include "hcs_fake/api/hcs_fake.pb.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace pb = ::hcsshim::hcsfake::v1;

void registerHnsService(FakeHns& hns, ttrpc::Server& server) {
  server.registerMethod(kHnsService, "Call", [&hns](ttrpc::CallContext&, std::string payload) -> Task<StatusOr<std::string>> {
    pb::HnsRequest req;
    if (!req.ParseFromString(payload)) co_return InternalError("ttrpc: error unmarshalling payload");
    if (req.object() > static_cast<uint32_t>(hns::HcnObject::kRoute)) {
      co_return InvalidArgumentError("HnsRequest.object: unknown object type " + std::to_string(req.object()));
    }
    auto type = static_cast<hns::HcnObject>(req.object());
    StatusOr<std::string> out = std::string("{}");
    switch (req.op()) {
      case pb::HnsRequest::ENUMERATE: out = hns.enumerate(type, req.document()); break;
      case pb::HnsRequest::CREATE: out = hns.create(type, req.id(), req.network(), req.document()); break;
      case pb::HnsRequest::QUERY: out = hns.query(type, req.id(), req.document()); break;
      case pb::HnsRequest::MODIFY: {
        Status st = hns.modify(type, req.id(), req.document());
        if (!st.ok()) out = st;
        break;
      }
      case pb::HnsRequest::DELETE: {
        Status st = hns.remove(type, req.id());
        if (!st.ok()) out = st;
        break;
      }
      case pb::HnsRequest::HNS_CALL: out = hns.hnsCall(req.method(), req.path(), req.document()); break;
      default: co_return InvalidArgumentError("HnsRequest.op: unknown operation " + std::to_string(req.op()));
    }
    if (!out.ok()) co_return out.status();
    pb::DocumentResponse resp;
    resp.set_document(*out);
    co_return resp.SerializeAsString();
  });
}

}  // namespace hcsshim::hcs_fake
