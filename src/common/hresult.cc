#include "src/common/hresult.h"

namespace hcsshim::hresult {

std::string_view name(HResult hr) {
  switch (hr) {
    case kOk: return "S_OK";
    case kFalse: return "S_FALSE";
    case kNotImpl: return "E_NOTIMPL";
    case kAbort: return "E_ABORT";
    case kFail: return "E_FAIL";
    case kBounds: return "E_BOUNDS";
    case kUnexpected: return "E_UNEXPECTED";
    case kAccessDenied: return "E_ACCESSDENIED";
    case kInvalidHandle: return "ERROR_INVALID_HANDLE";
    case kOutOfMemory: return "E_OUTOFMEMORY";
    case kInvalidArg: return "E_INVALIDARG";
    case kFileNotFound: return "ERROR_FILE_NOT_FOUND";
    case kInvalidData: return "ERROR_INVALID_DATA";
    case kNotSupported: return "ERROR_NOT_SUPPORTED";
    case kAlreadyExists: return "ERROR_ALREADY_EXISTS";
    case kElementNotFound: return "ERROR_NOT_FOUND";
    case kCancelled: return "ERROR_CANCELLED";
    case kServiceNotActive: return "ERROR_SERVICE_NOT_ACTIVE";
    case kTimeout: return "ERROR_TIMEOUT";
    case kInvalidState: return "ERROR_INVALID_STATE";
    case kHcsTerminatedDuringStart: return "HCS_E_TERMINATED_DURING_START";
    case kHcsImageMismatch: return "HCS_E_IMAGE_MISMATCH";
    case kHcsHypervNotInstalled: return "HCS_E_HYPERV_NOT_INSTALLED";
    case kHcsInvalidState: return "HCS_E_INVALID_STATE";
    case kHcsUnexpectedExit: return "HCS_E_UNEXPECTED_EXIT";
    case kHcsTerminated: return "HCS_E_TERMINATED";
    case kHcsConnectFailed: return "HCS_E_CONNECT_FAILED";
    case kHcsConnectionTimeout: return "HCS_E_CONNECTION_TIMEOUT";
    case kHcsConnectionClosed: return "HCS_E_CONNECTION_CLOSED";
    case kHcsUnknownMessage: return "HCS_E_UNKNOWN_MESSAGE";
    case kHcsUnsupportedProtocolVersion: return "HCS_E_UNSUPPORTED_PROTOCOL_VERSION";
    case kHcsInvalidJson: return "HCS_E_INVALID_JSON";
    case kHcsSystemNotFound: return "HCS_E_SYSTEM_NOT_FOUND";
    case kHcsSystemAlreadyExists: return "HCS_E_SYSTEM_ALREADY_EXISTS";
    case kHcsSystemAlreadyStopped: return "HCS_E_SYSTEM_ALREADY_STOPPED";
    case kHcsProtocolError: return "HCS_E_PROTOCOL_ERROR";
    case kHcsInvalidLayer: return "HCS_E_INVALID_LAYER";
    case kHcsServiceNotAvailable: return "HCS_E_SERVICE_NOT_AVAILABLE";
    case kHcsOperationPending: return "HCS_E_OPERATION_PENDING";
    case kHcsOperationTimeout: return "HCS_E_OPERATION_TIMEOUT";
    case kHcsAccessDenied: return "HCS_E_ACCESS_DENIED";
    case kHcsGuestCriticalError: return "HCS_E_GUEST_CRITICAL_ERROR";
    case kHcsProcessAlreadyStopped: return "HCS_E_PROCESS_ALREADY_STOPPED";
    case kVmcomputeOperationPending: return "VMCOMPUTE_E_OPERATION_PENDING";
    case kVmcomputeInvalidState: return "VMCOMPUTE_E_INVALID_STATE";
    case kVmcomputeUnexpectedExit: return "VMCOMPUTE_E_UNEXPECTED_EXIT";
    case kVmcomputeTimeout: return "VMCOMPUTE_E_TIMEOUT";
    case kVmcomputeUnknownMessage: return "VMCOMPUTE_E_UNKNOWN_MESSAGE";
    case kVmcomputeUnsupportedProtocolVersion: return "VMCOMPUTE_E_UNSUPPORTED_PROTOCOL_VERSION";
    case kVmcomputeInvalidJson: return "VMCOMPUTE_E_INVALID_JSON";
    case kVmcomputeSystemNotFound: return "VMCOMPUTE_E_SYSTEM_NOT_FOUND";
    case kVmcomputeAlreadyStopped: return "VMCOMPUTE_E_SYSTEM_ALREADY_STOPPED";
    case kHcnPortAlreadyExists: return "HCN_E_PORT_ALREADY_EXISTS";
    case kHcnInvalidNetworkType: return "HCN_E_INVALID_NETWORK_TYPE";
    case kHcnInvalidEndpoint: return "HCN_E_INVALID_ENDPOINT";
    case kHcnInvalidPolicy: return "HCN_E_INVALID_POLICY";
    case kHcnInvalidPolicyType: return "HCN_E_INVALID_POLICY_TYPE";
    case kHcnNetworkAlreadyExists: return "HCN_E_NETWORK_ALREADY_EXISTS";
    case kHcnPolicyAlreadyExists: return "HCN_E_POLICY_ALREADY_EXISTS";
    case kHcnEndpointAlreadyAttached: return "HCN_E_ENDPOINT_ALREADY_ATTACHED";
    case kHcnRequestUnsupported: return "HCN_E_REQUEST_UNSUPPORTED";
    case kHcnInvalidJson: return "HCN_E_INVALID_JSON";
    case kHcnInvalidIp: return "HCN_E_INVALID_IP";
    case kHcnEntityHasReferences: return "HCN_E_ENTITY_HAS_REFERENCES";
    case kHcnInvalidPrefix: return "HCN_E_INVALID_PREFIX";
    case kHcnInvalidSubnet: return "HCN_E_INVALID_SUBNET";
    case kHcnEndpointNotAttached: return "HCN_E_ENDPOINT_NOT_ATTACHED";
    case kNoMoreItems: return "ERROR_NO_MORE_ITEMS";
    default: return {};
  }
}

}  // namespace hcsshim::hresult
