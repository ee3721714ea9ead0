// hvsock_address.h: Hyper-V socket addresses as the host side of the bridge
// uses them on Windows (facts: windows-platform.md, "Hyper-V sockets").
//
// A Linux guest's vsock port P is reached on the host as the service GUID
// made from the vsock template with Data1 = P (0x40000000, the bridge, is
// 40000000-facb-11e6-bd58-64006a7986d3); the host listens with VmId = the
// utility VM's RuntimeId. SOCKADDR_HV is 36 bytes: u16 Family (AF_HYPERV,
// 34) @0, u16 Reserved @2, GUID VmId @4, GUID ServiceId @20, GUIDs in the
// Windows in-memory layout. Pure code, so it is tested on Linux (Wine has no
// AF_HYPERV).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/common/guid.h"
#include "src/common/status.h"

namespace hcsshim::bridge {

inline constexpr uint16_t kAfHyperV = 34;
inline constexpr size_t kSockaddrHvSize = 36;

// Well-known VmIds.
Guid hvGuidWildcard();   // 00000000-0000-0000-0000-000000000000
Guid hvGuidChildren();   // 90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd
Guid hvGuidLoopback();   // e0e16197-dd56-4a10-9195-5ee7a155a838
Guid hvGuidParent();     // a42e7cda-d03f-480c-9cc2-a4de20abb878

// serviceIdForPort: the service GUID of vsock port `port`.
Guid serviceIdForPort(uint32_t port);
// portOfServiceId: the vsock port a service GUID stands for, or nullopt if
// it is not made from the vsock template.
std::optional<uint32_t> portOfServiceId(const Guid& service);

struct HvSocketAddress {
  Guid vmId;
  Guid serviceId;
  friend bool operator==(const HvSocketAddress&, const HvSocketAddress&) = default;
};

// The transport address of a Hyper-V socket: "hvsock://<VmId>/<ServiceId>",
// GUIDs in their text form (platforms/windows/winsock_transport.h). parse
// also takes a vsock port for the service ("hvsock://<VmId>/vsock:1073741824"
// is the bridge's); anything else is InvalidArgument naming the address.
std::string formatHvsockUri(const HvSocketAddress& a);
StatusOr<HvSocketAddress> parseHvsockUri(std::string_view uri);

// encodeSockaddrHv / decodeSockaddrHv: the SOCKADDR_HV bytes. decode fails
// (InvalidArgument) on a wrong length or family.
std::array<uint8_t, kSockaddrHvSize> encodeSockaddrHv(const HvSocketAddress& a);
StatusOr<HvSocketAddress> decodeSockaddrHv(const uint8_t* bytes, size_t size);

}  // namespace hcsshim::bridge
