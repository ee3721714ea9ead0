// link.h: the stand-in DLLs' connection to the fake HCS daemon's stand-in
// service (hcs_fake/standin_service.h has the wire). Test-only: a Windows
// program under Wine loads stand-in computecore.dll/computenetwork.dll that
// forward each call here, so our platforms/windows code runs against the
// fake's HCS semantics.
//
// Configuration (environment, read at the first call):
//   HCS_STANDIN_ADDRESS  tcp://127.0.0.1:PORT (what the daemon wrote to
//                        <state-dir>/standin.address)
//   HCS_STANDIN_TOKEN    the daemon's token
// Without them, or when the daemon cannot be reached, every call fails with
// HCS_E_SERVICE_NOT_AVAILABLE and a result document that says why (as HCS
// does when vmcompute is not running).
//
// One connection per process; a reader thread answers requests and
// delivers notifications (on that thread, as HCS calls callbacks on its
// own threads). When the connection drops, pending requests fail with
// HCS_E_SERVICE_NOT_AVAILABLE and `onDisconnect` runs.
#pragma once

#include <winsock2.h>

#include <functional>
#include <string>

#include "src/common/json.h"

namespace hcsshim::standin {

inline constexpr long kServiceNotAvailable = static_cast<long>(0x80370114);
inline constexpr long kInvalidHandle = static_cast<long>(0x80070006);  // E_HANDLE
inline constexpr long kInvalidArg = static_cast<long>(0x80070057);     // E_INVALIDARG

// STANDIN_EXPORT: a function the stand-in DLLs export under its own name.
#define STANDIN_EXPORT extern "C" __declspec(dllexport)

// Answer: the service's answer line, or a synthesized failure.
using Answer = Json;

// request sends `req` (a "seq" is added) and calls `done` with the answer
// (on the reader thread, or at once if the link is down).
void request(Json req, std::function<void(const Answer&)> done);
// call: request and wait for the answer.
Answer call(Json req);

// onEvent / onDisconnect: set once by the DLL that uses the link.
void setEventHandler(std::function<void(const Json& event)> handler);
void setDisconnectHandler(std::function<void()> handler);

// openStdio: a connection to one of a process's stdio ports (the service's
// createProcess answer), the token already sent; INVALID_SOCKET if it fails.
SOCKET openStdio(uint16_t port);

// failure: an answer for an error the stand-in itself detects.
Answer failure(long hresult, const std::string& message);

// utf8: a caller's UTF-16 string ("" for NULL or one that is not UTF-16).
std::string utf8(const wchar_t* s);
// taskString: a string for the caller as Windows returns them -
// CoTaskMemAlloc'd UTF-16 the caller frees with CoTaskMemFree.
wchar_t* taskString(const std::string& s);

}  // namespace hcsshim::standin
