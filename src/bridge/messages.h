// messages.h: bridge payloads as C++ types with their exact JSON names
// (../shared/facts/gcs-bridge-protocol.md). Several fields carry JSON inside
// a string (ContainerConfig, ProcessParameters, Query, Properties): they are
// std::string here and have their own types below.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/common/hresult.h"
#include "src/schema/codec.h"
#include "src/schema/hcs.h"

namespace hcsshim::bridge {

#define BRIDGE_FIELD(wire, member) v(wire, s.member)

// Every request carries these.
struct RequestBase {
  std::string containerId;
  std::string activityId;
  Json extra;
  template <typename S, typename V>
  static void base(S& s, V& v) {
    BRIDGE_FIELD("ContainerId", containerId);
    BRIDGE_FIELD("ActivityId", activityId);
  }
  template <typename S, typename V>
  static void fields(S& s, V& v) { base(s, v); }
};

struct ErrorRecord {
  int32_t result = 0;
  std::string message;
  std::optional<std::string> stackTrace, moduleName, fileName, functionName;
  std::optional<uint32_t> line;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("Result", result);
    BRIDGE_FIELD("Message", message);
    BRIDGE_FIELD("StackTrace", stackTrace);
    BRIDGE_FIELD("ModuleName", moduleName);
    BRIDGE_FIELD("FileName", fileName);
    BRIDGE_FIELD("Line", line);
    BRIDGE_FIELD("FunctionName", functionName);
  }
};

// Every response carries these.
struct ResponseBase {
  int32_t result = 0;  // HRESULT
  std::string errorMessage;
  std::string activityId;
  std::vector<ErrorRecord> errorRecords;
  Json extra;
  template <typename S, typename V>
  static void base(S& s, V& v) {
    BRIDGE_FIELD("Result", result);
    BRIDGE_FIELD("ErrorMessage", errorMessage);
    BRIDGE_FIELD("ActivityId", activityId);
    BRIDGE_FIELD("ErrorRecords", errorRecords);
  }
  template <typename S, typename V>
  static void fields(S& s, V& v) { base(s, v); }
};

struct NegotiateProtocolRequest : RequestBase {
  uint32_t minimumVersion = 0;
  uint32_t maximumVersion = 0;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("MinimumVersion", minimumVersion);
    BRIDGE_FIELD("MaximumVersion", maximumVersion);
  }
};

struct GuestDefinedCapabilities {
  std::optional<bool> namespaceAddRequestSupported, signalProcessSupported, dumpStacksSupported,
      deleteContainerStateSupported;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("NamespaceAddRequestSupported", namespaceAddRequestSupported);
    BRIDGE_FIELD("SignalProcessSupported", signalProcessSupported);
    BRIDGE_FIELD("DumpStacksSupported", dumpStacksSupported);
    BRIDGE_FIELD("DeleteContainerStateSupported", deleteContainerStateSupported);
  }
};

struct Capabilities {
  std::optional<bool> sendHostCreateMessage, sendHostStartMessage, hvSocketConfigOnStartup;
  std::vector<schema::Version> supportedSchemaVersions;
  std::optional<std::string> runtimeOsType;
  std::optional<GuestDefinedCapabilities> guestDefinedCapabilities;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("SendHostCreateMessage", sendHostCreateMessage);
    BRIDGE_FIELD("SendHostStartMessage", sendHostStartMessage);
    BRIDGE_FIELD("HvSocketConfigOnStartup", hvSocketConfigOnStartup);
    BRIDGE_FIELD("SupportedSchemaVersions", supportedSchemaVersions);
    BRIDGE_FIELD("RuntimeOsType", runtimeOsType);
    BRIDGE_FIELD("GuestDefinedCapabilities", guestDefinedCapabilities);
  }
};

struct NegotiateProtocolResponse : ResponseBase {
  uint32_t version = 0;
  Capabilities capabilities;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("Version", version);
    BRIDGE_FIELD("Capabilities", capabilities);
  }
};

// The JSON inside CreateContainerRequest.ContainerConfig.
struct ContainerConfig {
  std::optional<schema::Version> schemaVersion;
  std::optional<std::string> ociBundlePath;
  Json ociSpecification;  // an OCI runtime spec
  std::optional<std::string> scratchDirPath;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("SchemaVersion", schemaVersion);
    BRIDGE_FIELD("OciBundlePath", ociBundlePath);
    BRIDGE_FIELD("OciSpecification", ociSpecification);
    BRIDGE_FIELD("ScratchDirPath", scratchDirPath);
  }
};

struct CreateContainerRequest : RequestBase {
  std::string containerConfig;  // JSON of ContainerConfig
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("ContainerConfig", containerConfig);
  }
};

// The JSON inside ExecuteProcessSettings.ProcessParameters: HCS process
// parameters plus the OCI process for an exec into a container.
struct ProcessParameters : schema::ProcessParameters {
  Json ociSpecification;
  Json ociProcess;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    schema::ProcessParameters::fields(s, v);
    BRIDGE_FIELD("OciSpecification", ociSpecification);
    BRIDGE_FIELD("OciProcess", ociProcess);
  }
};

struct StdioRelaySettings {
  std::optional<uint32_t> stdIn, stdOut, stdErr;  // vsock ports on the host; 0/absent = none
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("StdIn", stdIn);
    BRIDGE_FIELD("StdOut", stdOut);
    BRIDGE_FIELD("StdErr", stdErr);
  }
};

struct ExecuteProcessSettings {
  std::string processParameters;  // JSON of ProcessParameters
  std::optional<StdioRelaySettings> vsockStdioRelaySettings;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("ProcessParameters", processParameters);
    BRIDGE_FIELD("VsockStdioRelaySettings", vsockStdioRelaySettings);
  }
};

struct ExecuteProcessRequest : RequestBase {
  ExecuteProcessSettings settings;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("Settings", settings);
  }
};

struct ExecuteProcessResponse : ResponseBase {
  uint32_t processId = 0;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("ProcessId", processId);
  }
};

struct WaitForProcessRequest : RequestBase {
  uint32_t processId = 0;
  uint32_t timeoutInMs = kInfinite;
  static constexpr uint32_t kInfinite = 0xFFFFFFFF;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("ProcessId", processId);
    BRIDGE_FIELD("TimeoutInMs", timeoutInMs);
  }
};

struct WaitForProcessResponse : ResponseBase {
  uint32_t exitCode = 0;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("ExitCode", exitCode);
  }
};

struct SignalProcessOptions {
  std::optional<int32_t> signal;  // 0 or absent = SIGKILL
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) { BRIDGE_FIELD("Signal", signal); }
};

struct SignalProcessRequest : RequestBase {
  uint32_t processId = 0;
  std::optional<SignalProcessOptions> options;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("ProcessId", processId);
    BRIDGE_FIELD("Options", options);
  }
};

struct ResizeConsoleRequest : RequestBase {
  uint32_t processId = 0;
  uint16_t height = 0;
  uint16_t width = 0;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("ProcessId", processId);
    BRIDGE_FIELD("Height", height);
    BRIDGE_FIELD("Width", width);
  }
};

struct GetPropertiesRequest : RequestBase {
  std::string query;  // JSON of schema::PropertyQuery
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("Query", query);
  }
};

// The JSON inside GetPropertiesResponse.Properties.
struct GuestProperties {
  std::vector<schema::ProcessDetails> processList;
  Json lcowMetrics;  // cgroup metrics
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("ProcessList", processList);
    BRIDGE_FIELD("LCOWMetrics", lcowMetrics);
  }
};

struct GetPropertiesResponse : ResponseBase {
  std::string properties;  // JSON of GuestProperties
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("Properties", properties);
  }
};

struct ModifyRequest {
  std::string resourceType;
  std::string requestType;  // Add | Remove | Update
  Json settings;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("ResourceType", resourceType);
    BRIDGE_FIELD("RequestType", requestType);
    BRIDGE_FIELD("Settings", settings);
  }
};

struct ModifySettingsRequest : RequestBase {
  ModifyRequest request;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("Request", request);
  }
};

struct DumpStacksResponse : ResponseBase {
  std::string guestStacks;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("GuestStacks", guestStacks);
  }
};

struct ContainerNotification : RequestBase {
  std::string type;       // None, GracefulExit, ForcedExit, UnexpectedExit, Reboot, ...
  std::string operation;  // None, Construct, Start, ...
  int32_t result = 0;     // the container's exit code for exits
  Json resultInfo;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    base(s, v);
    BRIDGE_FIELD("Type", type);
    BRIDGE_FIELD("Operation", operation);
    BRIDGE_FIELD("Result", result);
    BRIDGE_FIELD("ResultInfo", resultInfo);
  }
};

// ---- ModifySettings resource settings ----

struct Layer {
  std::string path;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) { BRIDGE_FIELD("Path", path); }
};

struct CombinedLayers {
  std::optional<std::string> containerId;
  std::string containerRootPath;
  std::vector<Layer> layers;
  std::optional<std::string> scratchPath;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("ContainerID", containerId);
    BRIDGE_FIELD("ContainerRootPath", containerRootPath);
    BRIDGE_FIELD("Layers", layers);
    BRIDGE_FIELD("ScratchPath", scratchPath);
  }
};

struct MappedDirectory {
  std::string mountPath;
  std::optional<uint32_t> port;
  std::optional<std::string> shareName;
  std::optional<bool> readOnly;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("MountPath", mountPath);
    BRIDGE_FIELD("Port", port);
    BRIDGE_FIELD("ShareName", shareName);
    BRIDGE_FIELD("ReadOnly", readOnly);
  }
};

// Network (LCOWNetworkAdapter): an endpoint's NIC, moved by the guest into
// the network namespace NamespaceID and configured there.
struct LcowIpConfig {
  std::string ipAddress;
  std::optional<uint8_t> prefixLength;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("IPAddress", ipAddress);
    BRIDGE_FIELD("PrefixLength", prefixLength);
  }
};

struct LcowRoute {
  std::optional<std::string> nextHop;
  std::optional<std::string> destinationPrefix;
  std::optional<uint16_t> metric;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("NextHop", nextHop);
    BRIDGE_FIELD("DestinationPrefix", destinationPrefix);
    BRIDGE_FIELD("Metric", metric);
  }
};

struct LcowNetworkAdapter {
  std::string namespaceId;
  std::string id;
  std::string macAddress;
  std::vector<LcowIpConfig> ipConfigs;
  std::vector<LcowRoute> routes;
  std::optional<std::string> dnsSuffix;
  std::optional<std::string> dnsServerList;  // comma-separated
  std::optional<uint16_t> encapOverhead;
  std::optional<bool> enableLowMetric;
  // The older single-address form (still sent by some hosts).
  std::optional<std::string> ipAddress;
  std::optional<uint8_t> prefixLength;
  std::optional<std::string> gatewayAddress;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("NamespaceID", namespaceId);
    BRIDGE_FIELD("ID", id);
    BRIDGE_FIELD("MacAddress", macAddress);
    BRIDGE_FIELD("IPConfigs", ipConfigs);
    BRIDGE_FIELD("Routes", routes);
    BRIDGE_FIELD("DNSSuffix", dnsSuffix);
    BRIDGE_FIELD("DNSServerList", dnsServerList);
    BRIDGE_FIELD("EncapOverhead", encapOverhead);
    BRIDGE_FIELD("EnableLowMetric", enableLowMetric);
    BRIDGE_FIELD("IPAddress", ipAddress);
    BRIDGE_FIELD("PrefixLength", prefixLength);
    BRIDGE_FIELD("GatewayAddress", gatewayAddress);
  }
};

struct MappedVirtualDisk {
  std::string mountPath;
  uint8_t controller = 0;
  uint8_t lun = 0;
  std::optional<uint64_t> partition;
  std::optional<bool> readOnly, encrypted, ensureFilesystem;
  std::vector<std::string> options;
  std::optional<std::string> filesystem;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("MountPath", mountPath);
    BRIDGE_FIELD("Controller", controller);
    BRIDGE_FIELD("Lun", lun);
    BRIDGE_FIELD("Partition", partition);
    BRIDGE_FIELD("ReadOnly", readOnly);
    BRIDGE_FIELD("Encrypted", encrypted);
    BRIDGE_FIELD("Options", options);
    BRIDGE_FIELD("EnsureFilesystem", ensureFilesystem);
    BRIDGE_FIELD("Filesystem", filesystem);
  }
};

struct MappingInfo {
  uint64_t deviceOffsetInBytes = 0;
  uint64_t deviceSizeInBytes = 0;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("DeviceOffsetInBytes", deviceOffsetInBytes);
    BRIDGE_FIELD("DeviceSizeInBytes", deviceSizeInBytes);
  }
};

struct VPMemDevice {
  uint32_t deviceNumber = 0;
  std::string mountPath;
  std::optional<MappingInfo> mappingInfo;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    BRIDGE_FIELD("DeviceNumber", deviceNumber);
    BRIDGE_FIELD("MountPath", mountPath);
    BRIDGE_FIELD("MappingInfo", mappingInfo);
  }
};

#undef BRIDGE_FIELD

// ModifySettings resource types.
namespace resource {
inline constexpr const char* kMappedVirtualDisk = "MappedVirtualDisk";
inline constexpr const char* kScsiDevice = "SCSIDevice";
inline constexpr const char* kMappedDirectory = "MappedDirectory";
inline constexpr const char* kVPMemDevice = "VPMemDevice";
inline constexpr const char* kCombinedLayers = "CombinedLayers";
inline constexpr const char* kNetwork = "Network";
inline constexpr const char* kVPciDevice = "VPCIDevice";
}  // namespace resource

// statusFromResponse: OK for a succeeded Result, else a Status carrying the
// HRESULT and the guest's message, for operation `op` on `id`.
Status statusFromResponse(const ResponseBase& r, std::string_view op, std::string_view id);
// responseFromStatus fills Result/ErrorMessage/ErrorRecords from a failure.
void fillResponse(ResponseBase& r, const Status& st);

}  // namespace hcsshim::bridge
