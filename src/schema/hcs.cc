#include "src/schema/hcs.h"

namespace hcsshim::schema {

std::string resultDocument(const Status& status) {
  if (status.ok()) return {};
  ResultError r;
  r.error = static_cast<int32_t>(status.hresult());
  r.errorMessage = status.message();
  ErrorEvent ev;
  ev.message = status.message();
  ev.provider = "hcsshim-cpp";
  if (!status.op().empty()) ev.source = status.op();
  r.errorEvents.push_back(ev);
  return encode(r).dump();
}

Status statusFromResult(HResult hr, std::string_view resultDoc, std::string op, std::string id) {
  if (hresult::succeeded(hr)) return OkStatus();
  std::string message;
  if (!resultDoc.empty()) {
    auto r = decode<ResultError>(resultDoc);
    if (r.ok() && r->errorMessage) {
      message = *r->errorMessage;
    } else {
      message = std::string(resultDoc);
    }
  }
  if (message.empty()) {
    std::string_view n = hresult::name(hr);
    message = n.empty() ? "HCS call failed" : std::string(n);
  }
  return Status::fromHResult(hr, std::move(op), std::move(id), std::move(message));
}

}  // namespace hcsshim::schema
