// hresult.h: the HRESULT values this project produces and matches on.
//
// HCS, the GCS bridge and HNS report failures as 32-bit HRESULTs. The values
// here come from ../shared/facts (hcs-api.md, gcs-bridge-protocol.md,
// hns-hcn.md) and from winerror.h. Use them by name:
//
//   if (status.hresult() == hresult::kHcsSystemNotFound) { ... }
#pragma once

#include <cstdint>
#include <string_view>

namespace hcsshim {

// HResult is a Windows HRESULT, stored unsigned so hex literals read as in winerror.h.
using HResult = uint32_t;

namespace hresult {

// hresultFromWin32 builds the HRESULT_FROM_WIN32 form of a Win32 error code.
constexpr HResult fromWin32(uint32_t code) {
  return code == 0 ? 0 : (0x80070000u | (code & 0xFFFFu));
}

inline constexpr HResult kOk = 0x00000000;
inline constexpr HResult kFalse = 0x00000001;
inline constexpr HResult kNotImpl = 0x80004001;       // E_NOTIMPL
inline constexpr HResult kAbort = 0x80004004;         // E_ABORT
inline constexpr HResult kFail = 0x80004005;          // E_FAIL
inline constexpr HResult kBounds = 0x8000000B;        // E_BOUNDS
inline constexpr HResult kUnexpected = 0x8000FFFF;    // E_UNEXPECTED
inline constexpr HResult kAccessDenied = 0x80070005;  // E_ACCESSDENIED
inline constexpr HResult kInvalidHandle = 0x80070006;
inline constexpr HResult kOutOfMemory = 0x8007000E;   // E_OUTOFMEMORY
inline constexpr HResult kInvalidArg = 0x80070057;    // E_INVALIDARG
inline constexpr HResult kFileNotFound = fromWin32(2);
inline constexpr HResult kInvalidData = fromWin32(0xD);
inline constexpr HResult kNotSupported = fromWin32(0x32);
inline constexpr HResult kAlreadyExists = fromWin32(183);
inline constexpr HResult kElementNotFound = fromWin32(0x490);
inline constexpr HResult kCancelled = fromWin32(1223);
inline constexpr HResult kServiceNotActive = fromWin32(1062);
inline constexpr HResult kTimeout = fromWin32(1460);
inline constexpr HResult kInvalidState = fromWin32(5023);

// HCS_E_* (computecore / vmcompute).
inline constexpr HResult kHcsTerminatedDuringStart = 0x80370100;
inline constexpr HResult kHcsImageMismatch = 0x80370101;
inline constexpr HResult kHcsHypervNotInstalled = 0x80370102;
inline constexpr HResult kHcsInvalidState = 0x80370105;
inline constexpr HResult kHcsUnexpectedExit = 0x80370106;
inline constexpr HResult kHcsTerminated = 0x80370107;
inline constexpr HResult kHcsConnectFailed = 0x80370108;
inline constexpr HResult kHcsConnectionTimeout = 0x80370109;
inline constexpr HResult kHcsConnectionClosed = 0x8037010A;
inline constexpr HResult kHcsUnknownMessage = 0x8037010B;
inline constexpr HResult kHcsUnsupportedProtocolVersion = 0x8037010C;
inline constexpr HResult kHcsInvalidJson = 0x8037010D;
inline constexpr HResult kHcsSystemNotFound = 0x8037010E;
inline constexpr HResult kHcsSystemAlreadyExists = 0x8037010F;
inline constexpr HResult kHcsSystemAlreadyStopped = 0x80370110;
inline constexpr HResult kHcsProtocolError = 0x80370111;
inline constexpr HResult kHcsInvalidLayer = 0x80370112;
inline constexpr HResult kHcsServiceNotAvailable = 0x80370114;
inline constexpr HResult kHcsOperationPending = 0x80370117;
inline constexpr HResult kHcsOperationTimeout = 0x80370118;
inline constexpr HResult kHcsAccessDenied = 0x8037011B;
inline constexpr HResult kHcsGuestCriticalError = 0x8037011C;
inline constexpr HResult kHcsProcessAlreadyStopped = 0x8037011F;

// The 0xC037xxxx forms vmcompute returns and clients match on.
inline constexpr HResult kVmcomputeOperationPending = 0xC0370103;
inline constexpr HResult kVmcomputeInvalidState = 0xC0370105;
inline constexpr HResult kVmcomputeUnexpectedExit = 0xC0370106;
inline constexpr HResult kVmcomputeTimeout = 0xC0370109;
inline constexpr HResult kVmcomputeUnknownMessage = 0xC037010B;
inline constexpr HResult kVmcomputeUnsupportedProtocolVersion = 0xC037010C;
inline constexpr HResult kVmcomputeInvalidJson = 0xC037010D;
inline constexpr HResult kVmcomputeSystemNotFound = 0xC037010E;
inline constexpr HResult kVmcomputeAlreadyStopped = 0xC0370110;

// HCN (winerror.h FACILITY 0x3B).
inline constexpr HResult kHcnInvalidNetworkType = 0x803B000B;
inline constexpr HResult kHcnInvalidEndpoint = 0x803B000C;
inline constexpr HResult kHcnInvalidPolicy = 0x803B000D;
inline constexpr HResult kHcnInvalidPolicyType = 0x803B000E;
inline constexpr HResult kHcnNetworkAlreadyExists = 0x803B0010;
inline constexpr HResult kHcnPolicyAlreadyExists = 0x803B0012;
inline constexpr HResult kHcnPortAlreadyExists = 0x803B0013;
inline constexpr HResult kHcnEndpointAlreadyAttached = 0x803B0014;
inline constexpr HResult kHcnRequestUnsupported = 0x803B0015;
inline constexpr HResult kHcnInvalidJson = 0x803B001B;
inline constexpr HResult kHcnInvalidIp = 0x803B001E;
inline constexpr HResult kHcnEntityHasReferences = 0x803B002C;
inline constexpr HResult kHcnInvalidPrefix = 0x803B0030;
inline constexpr HResult kHcnInvalidSubnet = 0x803B0032;
inline constexpr HResult kHcnEndpointNotAttached = 0x803B0034;
// The fake's answer when a network's address or MAC pool is used up
// (ERROR_NO_MORE_ITEMS; real HNS's code for this is not documented).
inline constexpr HResult kNoMoreItems = fromWin32(259);

// succeeded is true for S_OK, S_FALSE and every other non-negative HRESULT.
constexpr bool succeeded(HResult hr) { return (hr & 0x80000000u) == 0; }

// name returns the symbolic name of a known HRESULT ("HCS_E_INVALID_STATE"), or "" if unknown.
std::string_view name(HResult hr);

}  // namespace hresult
}  // namespace hcsshim
