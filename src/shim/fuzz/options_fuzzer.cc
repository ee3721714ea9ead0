// options_fuzzer: libFuzzer target for what a CreateTaskRequest brings the
// shim from outside - the runtime options (a protobuf Any: its type URL and
// the runhcs Options bytes) and the bundle's OCI spec (config.json, its
// annotations included) - through to the utility VM's schema2 document.
// Input: a 2-byte little-endian length N, N bytes of a serialized Any, then
// the spec's JSON text; the N bytes are also read as a runtime options file
// (parseRunhcsOptionsFile). Bad input must be InvalidArgument, never a crash; a
// document built from accepted options must be one HCS accepts back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/schema/hcs.h"
#include "src/shim/vm_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hcsshim;
  if (size < 2) return 0;
  size_t n = static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8;
  if (n > size - 2) n = size - 2;
  // The same bytes as a runtime options file (runtimeoptions.v1.Options' ConfigPath).
  auto file = shim::parseRunhcsOptionsFile(std::string_view(reinterpret_cast<const char*>(data) + 2, n), "fuzz");
  if (!file.ok() && file.status().code() != Code::kInvalidArgument && file.status().code() != Code::kUnimplemented) {
    __builtin_trap();
  }
  hcsshim::protobuf::Any any;
  if (!any.ParseFromArray(data + 2, static_cast<int>(n))) return 0;
  auto spec = parseJson(std::string_view(reinterpret_cast<const char*>(data) + 2 + n, size - 2 - n));
  if (!spec.ok()) return 0;
  (void)shim::sandboxOf(*spec);
  (void)shim::networkNamespaceOf(*spec);
  auto options = shim::vmOptions("fuzz-task", any, *spec, "/boot");
  if (!options.ok()) {
    if (options.status().code() != Code::kInvalidArgument) __builtin_trap();
    return 0;
  }
  auto doc = uvm::lcowDocument(*options);
  if (!doc.ok()) return 0;
  // What we would send HCS decodes as HCS would read it.
  std::string text = jsonText(schema::encode(*doc));
  if (!schema::decode<schema::ComputeSystem>(std::string_view(text)).ok()) __builtin_trap();
  return 0;
}
