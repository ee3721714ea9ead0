#include "src/bridge/messages.h"

namespace hcsshim::bridge {

Status statusFromResponse(const ResponseBase& r, std::string_view op, std::string_view id) {
  auto hr = static_cast<HResult>(r.result);
  if (hresult::succeeded(hr)) return OkStatus();
  std::string message = r.errorMessage;
  if (message.empty() && !r.errorRecords.empty()) message = r.errorRecords[0].message;
  if (message.empty()) message = "the guest failed the request";
  return Status::fromHResult(hr, std::string(op), std::string(id), std::move(message));
}

void fillResponse(ResponseBase& r, const Status& st) {
  if (st.ok()) {
    r.result = 0;
    return;
  }
  HResult hr = st.hresult();
  if (hr == hresult::kOk) hr = hresultFromCode(st.code());
  r.result = static_cast<int32_t>(hr);
  r.errorMessage = st.message();
  ErrorRecord rec;
  rec.result = r.result;
  rec.message = st.message();
  if (!st.op().empty()) rec.functionName = st.op();
  r.errorRecords.push_back(std::move(rec));
}

}  // namespace hcsshim::bridge
