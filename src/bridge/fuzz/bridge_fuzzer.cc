// bridge_fuzzer: libFuzzer target for the bridge's frame and payload parsers.
// Input = a byte stream as the guest would read it from the host: frames are
// parsed one after another; each payload is decoded as the request type its
// header names, and the JSON-inside-a-string fields are decoded in turn.
// Nothing may crash, hang or leak; a decoded request must re-encode.
//
// Built two ways: by Bazel with GCC into bridge_fuzzer_test (a deterministic
// corpus + mutation driver that runs in `bazel test`), and by
// tools/fuzz/run (:bridge_fuzzer, clang -fsanitize=fuzzer) for open-ended runs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/bridge/messages.h"
#include "src/bridge/protocol.h"

namespace {

using namespace hcsshim;
using namespace hcsshim::bridge;

template <typename T>
void roundTrip(std::string_view payload) {
  auto r = schema::decode<T>(payload);
  if (!r.ok()) return;
  // What decodes must encode and decode to the same document.
  std::string again = jsonText(schema::encode(*r));
  auto r2 = schema::decode<T>(std::string_view(again));
  if (!r2.ok() || jsonText(schema::encode(*r2)) != again) __builtin_trap();
}

void decodePayload(uint32_t type, std::string_view payload) {
  switch (requestTypeOf(type)) {
    case msg::kNegotiateProtocol:
      roundTrip<NegotiateProtocolRequest>(payload);
      roundTrip<NegotiateProtocolResponse>(payload);
      break;
    case msg::kCreate:
      if (auto r = schema::decode<CreateContainerRequest>(payload); r.ok()) roundTrip<ContainerConfig>(r->containerConfig);
      break;
    case msg::kExecuteProcess:
      if (auto r = schema::decode<ExecuteProcessRequest>(payload); r.ok()) {
        roundTrip<ProcessParameters>(r->settings.processParameters);
      }
      roundTrip<ExecuteProcessResponse>(payload);
      break;
    case msg::kWaitForProcess:
      roundTrip<WaitForProcessRequest>(payload);
      roundTrip<WaitForProcessResponse>(payload);
      break;
    case msg::kSignalProcess: roundTrip<SignalProcessRequest>(payload); break;
    case msg::kResizeConsole: roundTrip<ResizeConsoleRequest>(payload); break;
    case msg::kGetProperties:
      if (auto r = schema::decode<GetPropertiesRequest>(payload); r.ok()) roundTrip<schema::PropertyQuery>(r->query);
      if (auto r = schema::decode<GetPropertiesResponse>(payload); r.ok()) roundTrip<GuestProperties>(r->properties);
      break;
    case msg::kModifySettings:
      if (auto r = schema::decode<ModifySettingsRequest>(payload); r.ok()) {
        std::string settings = jsonText(r->request.settings);
        roundTrip<CombinedLayers>(settings);
        roundTrip<MappedDirectory>(settings);
        roundTrip<MappedVirtualDisk>(settings);
        roundTrip<VPMemDevice>(settings);
      }
      break;
    case msg::kDumpStacks: roundTrip<DumpStacksResponse>(payload); break;
    default:
      if (type == msg::kContainerNotification) roundTrip<ContainerNotification>(payload);
      roundTrip<ResponseBase>(payload);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    auto f = parseFrame(in);
    if (!f.ok()) break;  // incomplete, or a size the guest refuses
    if (f->second < kHeaderSize || f->second > in.size()) __builtin_trap();
    decodePayload(f->first.header.type, f->first.payload);
    in.remove_prefix(f->second);
  }
  return 0;
}
