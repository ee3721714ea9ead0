#include "src/hcs/hcs_api.h"

namespace hcsshim::hcs {

std::string eventTypeName(EventType t) {
  switch (t) {
    case EventType::kInvalid: return "Invalid";
    case EventType::kSystemExited: return "SystemExited";
    case EventType::kSystemCrashInitiated: return "SystemCrashInitiated";
    case EventType::kSystemCrashReport: return "SystemCrashReport";
    case EventType::kSystemRdpEnhancedModeStateChanged: return "SystemRdpEnhancedModeStateChanged";
    case EventType::kSystemSiloJobCreated: return "SystemSiloJobCreated";
    case EventType::kSystemGuestConnectionClosed: return "SystemGuestConnectionClosed";
    case EventType::kProcessExited: return "ProcessExited";
    case EventType::kOperationCallback: return "OperationCallback";
    case EventType::kServiceDisconnect: return "ServiceDisconnect";
  }
  return "EventType(" + std::to_string(static_cast<uint32_t>(t)) + ")";
}

}  // namespace hcsshim::hcs
