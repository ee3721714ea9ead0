#include "src/schema/hcs.h"

namespace hcsshim::schema {

ErrorEvent errorEventFor(const Status& status) {
  ErrorEvent ev;
  ev.message = validUtf8(status.message());
  ev.provider = "hcsshim-cpp";
  ev.eventId = 0;
  if (!status.op().empty()) ev.source = validUtf8(status.op());
  return ev;
}

Status withErrorEvent(const Status& status) {
  if (status.ok() || !status.errorEvents().empty()) return status;
  Json events = Json::array({encode(errorEventFor(status))});
  return status.withErrorEvents(jsonText(events));
}

std::string resultDocument(const Status& status) {
  if (status.ok()) return {};
  ResultError r;
  r.error = static_cast<int32_t>(status.hresult());
  r.errorMessage = status.message();
  auto events = status.errorEvents().empty() ? StatusOr<std::vector<ErrorEvent>>(InvalidArgumentError(""))
                                             : decode<std::vector<ErrorEvent>>(*parseJson(status.errorEvents()));
  if (events.ok()) {
    r.errorEvents = std::move(*events);
  } else {
    r.errorEvents.push_back(errorEventFor(status));
  }
  return jsonText(encode(r));
}

Status statusFromResult(HResult hr, std::string_view resultDoc, std::string op, std::string id) {
  if (hresult::succeeded(hr)) return OkStatus();
  std::string message;
  std::string events;
  if (!resultDoc.empty()) {
    auto r = decode<ResultError>(resultDoc);
    if (r.ok() && r->errorMessage) {
      message = *r->errorMessage;
      if (!r->errorEvents.empty()) events = jsonText(encode(r->errorEvents));
    } else {
      message = std::string(resultDoc);
    }
  }
  if (message.empty()) {
    std::string_view n = hresult::name(hr);
    message = n.empty() ? "HCS call failed" : std::string(n);
  }
  return Status::fromHResult(hr, std::move(op), std::move(id), std::move(message)).withErrorEvents(events);
}

}  // namespace hcsshim::schema
