#include "src/bridge/hvsock_address.h"

#include <cstring>

namespace hcsshim::bridge {

namespace {

// The vsock template's fixed part: xxxxxxxx-facb-11e6-bd58-64006a7986d3.
constexpr uint16_t kTemplateData2 = 0xfacb;
constexpr uint16_t kTemplateData3 = 0x11e6;
constexpr std::array<uint8_t, 8> kTemplateData4 = {0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3};

Guid known(const char* text) { return *Guid::parse(text); }

}  // namespace

Guid hvGuidWildcard() { return Guid(); }
Guid hvGuidChildren() { return known("90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd"); }
Guid hvGuidLoopback() { return known("e0e16197-dd56-4a10-9195-5ee7a155a838"); }
Guid hvGuidParent() { return known("a42e7cda-d03f-480c-9cc2-a4de20abb878"); }

Guid serviceIdForPort(uint32_t port) { return Guid(port, kTemplateData2, kTemplateData3, kTemplateData4); }

std::optional<uint32_t> portOfServiceId(const Guid& service) {
  if (service.data2() != kTemplateData2 || service.data3() != kTemplateData3 || service.data4() != kTemplateData4) {
    return std::nullopt;
  }
  return service.data1();
}

std::array<uint8_t, kSockaddrHvSize> encodeSockaddrHv(const HvSocketAddress& a) {
  std::array<uint8_t, kSockaddrHvSize> out{};
  out[0] = static_cast<uint8_t>(kAfHyperV & 0xff);
  out[1] = static_cast<uint8_t>(kAfHyperV >> 8);
  auto vm = a.vmId.toBytesLE();
  auto service = a.serviceId.toBytesLE();
  std::memcpy(out.data() + 4, vm.data(), 16);
  std::memcpy(out.data() + 20, service.data(), 16);
  return out;
}

StatusOr<HvSocketAddress> decodeSockaddrHv(const uint8_t* bytes, size_t size) {
  if (!bytes || size != kSockaddrHvSize) {
    return InvalidArgumentError("SOCKADDR_HV: want " + std::to_string(kSockaddrHvSize) + " bytes, got " + std::to_string(size));
  }
  uint16_t family = static_cast<uint16_t>(bytes[0] | (bytes[1] << 8));
  if (family != kAfHyperV) return InvalidArgumentError("SOCKADDR_HV: family " + std::to_string(family) + ", want 34 (AF_HYPERV)");
  std::array<uint8_t, 16> vm{}, service{};
  std::memcpy(vm.data(), bytes + 4, 16);
  std::memcpy(service.data(), bytes + 20, 16);
  return HvSocketAddress{Guid::fromBytesLE(vm), Guid::fromBytesLE(service)};
}

}  // namespace hcsshim::bridge
