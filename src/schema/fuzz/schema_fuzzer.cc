// schema_fuzzer: libFuzzer target for the HCS and HNS/HCN schema decoders.
// Input: one byte choosing the document type, then the JSON text (what HCS,
// HNS or a hostile client would send). A document that decodes must encode,
// and decoding that again must give the same document (nothing is lost or
// invented in a round trip, unknown fields included); nothing may crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/schema/hcs.h"
#include "src/schema/hns.h"

namespace {

using namespace hcsshim;
using namespace hcsshim::schema;

template <typename T>
void roundTrip(std::string_view text) {
  auto first = decode<T>(text);
  if (!first.ok()) return;
  std::string once = jsonText(encode(*first));
  auto second = decode<T>(std::string_view(once));
  if (!second.ok() || jsonText(encode(*second)) != once) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 20) {
    case 0: roundTrip<ComputeSystem>(text); break;
    case 1: roundTrip<ModifySettingRequest>(text); break;
    case 2: roundTrip<ProcessParameters>(text); break;
    case 3: roundTrip<PropertyQuery>(text); break;
    case 4: roundTrip<Properties>(text); break;
    case 5: roundTrip<ProcessStatus>(text); break;
    case 6: roundTrip<ResultError>(text); break;
    case 7: roundTrip<ErrorEvent>(text); break;
    case 8: roundTrip<HostComputeNetwork>(text); break;
    case 9: roundTrip<HostComputeEndpoint>(text); break;
    case 10: roundTrip<HostComputeNamespace>(text); break;
    case 11: roundTrip<HostComputeLoadBalancer>(text); break;
    case 12: roundTrip<HcnModifyRequest>(text); break;
    case 13: roundTrip<PolicyRequest>(text); break;
    case 14: roundTrip<HostComputeQuery>(text); break;
    case 15: roundTrip<HnsNetwork>(text); break;
    case 16: roundTrip<HnsEndpoint>(text); break;
    case 17: roundTrip<HnsPolicyList>(text); break;
    case 18: roundTrip<HnsResponse>(text); break;
    default: roundTrip<HostComputeRoute>(text); break;
  }
  return 0;
}
