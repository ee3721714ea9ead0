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

std::string formatHvsockUri(const HvSocketAddress& a) {
  return "hvsock://" + a.vmId.toString() + "/" + a.serviceId.toString();
}

StatusOr<HvSocketAddress> parseHvsockUri(std::string_view uri) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("Hyper-V socket address " + std::string(uri.substr(0, 200)) + ": " + why +
                                " (want hvsock://<VmId GUID>/<ServiceId GUID or vsock:PORT>)");
  };
  constexpr std::string_view kScheme = "hvsock://";
  if (uri.substr(0, kScheme.size()) != kScheme) return bad("not an hvsock:// address");
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("no service after the VmId");
  auto vm = Guid::parse(rest.substr(0, slash));
  if (!vm.ok()) return bad("VmId: " + vm.status().message());
  std::string_view service = rest.substr(slash + 1);
  constexpr std::string_view kVsock = "vsock:";
  if (service.substr(0, kVsock.size()) == kVsock) {
    std::string_view digits = service.substr(kVsock.size());
    if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return bad("vsock port is not a number");
    }
    uint64_t port = std::stoull(std::string(digits));
    if (port > 0xffffffffull) return bad("vsock port out of range");
    return HvSocketAddress{*vm, serviceIdForPort(static_cast<uint32_t>(port))};
  }
  auto id = Guid::parse(service);
  if (!id.ok()) return bad("ServiceId: " + id.status().message());
  return HvSocketAddress{*vm, *id};
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
