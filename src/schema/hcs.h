// hcs.h: HCS schema 2 documents (the JSON HCS takes and returns), with their
// exact PascalCase wire names. Facts: ../shared/facts/hcs-api.md.
//
//   auto cs = schema::decode<schema::ComputeSystem>(json);
//   if (cs->virtualMachine) ... cs->virtualMachine->computeTopology->memory->sizeInMB ...
//
// Every struct keeps fields it does not know in `extra`, so documents from a
// newer client survive a decode/encode round trip.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/schema/codec.h"

namespace hcsshim::schema {

// The fields() lists below are the schema: name on the wire, member.
#define HCS_FIELD(wire, member) v(wire, s.member)

struct Version {
  std::optional<int32_t> major;
  std::optional<int32_t> minor;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Major", major);
    HCS_FIELD("Minor", minor);
  }
};

struct LinuxKernelDirect {
  std::optional<std::string> kernelFilePath;
  std::optional<std::string> initRdPath;
  std::optional<std::string> kernelCmdLine;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("KernelFilePath", kernelFilePath);
    HCS_FIELD("InitRdPath", initRdPath);
    HCS_FIELD("KernelCmdLine", kernelCmdLine);
  }
};

struct Uefi {
  std::optional<bool> enableDebugger;
  std::optional<std::string> secureBootTemplateId;
  Json bootThis;  // "BootThis": a boot entry
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("EnableDebugger", enableDebugger);
    HCS_FIELD("SecureBootTemplateId", secureBootTemplateId);
    HCS_FIELD("BootThis", bootThis);
  }
};

struct Chipset {
  std::optional<Uefi> uefi;
  std::optional<LinuxKernelDirect> linuxKernelDirect;
  std::optional<bool> useUtc;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Uefi", uefi);
    HCS_FIELD("LinuxKernelDirect", linuxKernelDirect);
    HCS_FIELD("UseUtc", useUtc);
  }
};

struct Memory {
  std::optional<uint64_t> sizeInMB;
  std::optional<bool> allowOvercommit;
  std::optional<bool> enableHotHint;
  std::optional<bool> enableColdHint;
  std::optional<bool> enableEpf;
  std::optional<bool> enableDeferredCommit;
  std::optional<bool> enableColdDiscardHint;
  std::optional<uint64_t> lowMmioGapInMB;
  std::optional<uint64_t> highMmioBaseInMB;
  std::optional<uint64_t> highMmioGapInMB;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("SizeInMB", sizeInMB);
    HCS_FIELD("AllowOvercommit", allowOvercommit);
    HCS_FIELD("EnableHotHint", enableHotHint);
    HCS_FIELD("EnableColdHint", enableColdHint);
    HCS_FIELD("EnableEpf", enableEpf);
    HCS_FIELD("EnableDeferredCommit", enableDeferredCommit);
    HCS_FIELD("EnableColdDiscardHint", enableColdDiscardHint);
    HCS_FIELD("LowMmioGapInMB", lowMmioGapInMB);
    HCS_FIELD("HighMmioBaseInMB", highMmioBaseInMB);
    HCS_FIELD("HighMmioGapInMB", highMmioGapInMB);
  }
};

struct Processor {
  std::optional<uint32_t> count;
  std::optional<uint64_t> limit;
  std::optional<uint64_t> weight;
  std::optional<bool> exposeVirtualizationExtensions;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Count", count);
    HCS_FIELD("Limit", limit);
    HCS_FIELD("Weight", weight);
    HCS_FIELD("ExposeVirtualizationExtensions", exposeVirtualizationExtensions);
  }
};

struct Topology {
  std::optional<Memory> memory;
  std::optional<Processor> processor;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Memory", memory);
    HCS_FIELD("Processor", processor);
  }
};

struct Attachment {
  std::optional<std::string> type;  // "VirtualDisk", "PassThru", "Iso"
  std::optional<std::string> path;
  std::optional<bool> readOnly;
  std::optional<std::string> cachingMode;
  std::optional<bool> ignoreFlushes;
  std::optional<std::string> extensibleVirtualDiskType;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("Path", path);
    HCS_FIELD("ReadOnly", readOnly);
    HCS_FIELD("CachingMode", cachingMode);
    HCS_FIELD("IgnoreFlushes", ignoreFlushes);
    HCS_FIELD("ExtensibleVirtualDiskType", extensibleVirtualDiskType);
  }
};

struct Scsi {
  std::map<std::string, Attachment> attachments;  // key: LUN as a decimal string
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Attachments", attachments);
  }
};

struct VirtualPMemMapping {
  std::optional<std::string> hostPath;
  std::optional<std::string> imageFormat;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("HostPath", hostPath);
    HCS_FIELD("ImageFormat", imageFormat);
  }
};

struct VirtualPMemDevice {
  std::optional<std::string> hostPath;
  std::optional<bool> readOnly;
  std::optional<std::string> imageFormat;  // "Vhd1", "Vhdx"
  std::map<std::string, VirtualPMemMapping> mappings;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("HostPath", hostPath);
    HCS_FIELD("ReadOnly", readOnly);
    HCS_FIELD("ImageFormat", imageFormat);
    HCS_FIELD("Mappings", mappings);
  }
};

struct VirtualPMemController {
  std::map<std::string, VirtualPMemDevice> devices;  // key: device number
  std::optional<uint32_t> maximumCount;
  std::optional<uint64_t> maximumSizeBytes;
  std::optional<std::string> backing;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Devices", devices);
    HCS_FIELD("MaximumCount", maximumCount);
    HCS_FIELD("MaximumSizeBytes", maximumSizeBytes);
    HCS_FIELD("Backing", backing);
  }
};

struct NetworkAdapter {
  std::optional<std::string> endpointId;
  std::optional<std::string> macAddress;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("EndpointId", endpointId);
    HCS_FIELD("MacAddress", macAddress);
  }
};

struct Plan9Share {
  std::optional<std::string> name;
  std::optional<std::string> accessName;  // the aname the guest mounts
  std::optional<std::string> path;
  std::optional<int32_t> port;
  std::optional<int32_t> flags;
  std::optional<bool> readOnly;
  std::vector<std::string> allowedFiles;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Name", name);
    HCS_FIELD("AccessName", accessName);
    HCS_FIELD("Path", path);
    HCS_FIELD("Port", port);
    HCS_FIELD("Flags", flags);
    HCS_FIELD("ReadOnly", readOnly);
    HCS_FIELD("AllowedFiles", allowedFiles);
  }
};

struct Plan9 {
  std::vector<Plan9Share> shares;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Shares", shares);
  }
};

struct HvSocketServiceConfig {
  std::optional<std::string> bindSecurityDescriptor;
  std::optional<std::string> connectSecurityDescriptor;
  std::optional<bool> allowWildcardBinds;
  std::optional<bool> disabled;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("BindSecurityDescriptor", bindSecurityDescriptor);
    HCS_FIELD("ConnectSecurityDescriptor", connectSecurityDescriptor);
    HCS_FIELD("AllowWildcardBinds", allowWildcardBinds);
    HCS_FIELD("Disabled", disabled);
  }
};

struct HvSocketSystemConfig {
  std::optional<std::string> defaultBindSecurityDescriptor;
  std::optional<std::string> defaultConnectSecurityDescriptor;
  std::map<std::string, HvSocketServiceConfig> serviceTable;  // key: service GUID
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("DefaultBindSecurityDescriptor", defaultBindSecurityDescriptor);
    HCS_FIELD("DefaultConnectSecurityDescriptor", defaultConnectSecurityDescriptor);
    HCS_FIELD("ServiceTable", serviceTable);
  }
};

struct HvSocket {
  std::optional<HvSocketSystemConfig> hvSocketConfig;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("HvSocketConfig", hvSocketConfig);
  }
};

struct Devices {
  std::map<std::string, Scsi> scsi;  // key: controller name or GUID
  std::optional<VirtualPMemController> virtualPMem;
  std::map<std::string, NetworkAdapter> networkAdapters;
  std::optional<HvSocket> hvSocket;
  std::optional<Plan9> plan9;
  Json virtualSmb;
  Json comPorts;
  Json virtualPci;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Scsi", scsi);
    HCS_FIELD("VirtualPMem", virtualPMem);
    HCS_FIELD("NetworkAdapters", networkAdapters);
    HCS_FIELD("HvSocket", hvSocket);
    HCS_FIELD("Plan9", plan9);
    HCS_FIELD("VirtualSmb", virtualSmb);
    HCS_FIELD("ComPorts", comPorts);
    HCS_FIELD("VirtualPci", virtualPci);
  }
};

struct GuestConnection {
  std::optional<bool> useVsock;
  std::optional<bool> useConnectedSuspend;
  std::optional<bool> useHostTimeZone;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("UseVsock", useVsock);
    HCS_FIELD("UseConnectedSuspend", useConnectedSuspend);
    HCS_FIELD("UseHostTimeZone", useHostTimeZone);
  }
};

struct VirtualMachine {
  std::optional<Version> version;
  std::optional<bool> stopOnReset;
  std::optional<Chipset> chipset;
  std::optional<Topology> computeTopology;
  std::optional<Devices> devices;
  std::optional<GuestConnection> guestConnection;
  Json guestState;
  Json securitySettings;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Version", version);
    HCS_FIELD("StopOnReset", stopOnReset);
    HCS_FIELD("Chipset", chipset);
    HCS_FIELD("ComputeTopology", computeTopology);
    HCS_FIELD("Devices", devices);
    HCS_FIELD("GuestConnection", guestConnection);
    HCS_FIELD("GuestState", guestState);
    HCS_FIELD("SecuritySettings", securitySettings);
  }
};

struct Layer {
  std::optional<std::string> id;
  std::optional<std::string> path;
  std::optional<std::string> pathType;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Id", id);
    HCS_FIELD("Path", path);
    HCS_FIELD("PathType", pathType);
  }
};

struct Storage {
  std::vector<Layer> layers;
  std::optional<std::string> path;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Layers", layers);
    HCS_FIELD("Path", path);
  }
};

struct MappedDirectory {
  std::optional<std::string> hostPath;
  std::optional<std::string> hostPathType;
  std::optional<std::string> containerPath;
  std::optional<bool> readOnly;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("HostPath", hostPath);
    HCS_FIELD("HostPathType", hostPathType);
    HCS_FIELD("ContainerPath", containerPath);
    HCS_FIELD("ReadOnly", readOnly);
  }
};

struct ContainerMemory {
  std::optional<uint64_t> sizeInMB;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("SizeInMB", sizeInMB);
  }
};

struct ContainerProcessor {
  std::optional<uint32_t> count;
  std::optional<uint64_t> maximum;
  std::optional<uint64_t> weight;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Count", count);
    HCS_FIELD("Maximum", maximum);
    HCS_FIELD("Weight", weight);
  }
};

struct GuestOs {
  std::optional<std::string> hostName;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("HostName", hostName);
  }
};

struct Container {
  std::optional<GuestOs> guestOs;
  std::optional<Storage> storage;
  std::vector<MappedDirectory> mappedDirectories;
  Json mappedPipes;
  std::optional<ContainerMemory> memory;
  std::optional<ContainerProcessor> processor;
  Json networking;
  Json hvSocket;
  Json registryChanges;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("GuestOs", guestOs);
    HCS_FIELD("Storage", storage);
    HCS_FIELD("MappedDirectories", mappedDirectories);
    HCS_FIELD("MappedPipes", mappedPipes);
    HCS_FIELD("Memory", memory);
    HCS_FIELD("Processor", processor);
    HCS_FIELD("Networking", networking);
    HCS_FIELD("HvSocket", hvSocket);
    HCS_FIELD("RegistryChanges", registryChanges);
  }
};

struct ComputeSystem {
  std::optional<std::string> owner;
  std::optional<Version> schemaVersion;
  std::optional<std::string> hostingSystemId;
  Json hostedSystem;
  std::optional<Container> container;
  std::optional<VirtualMachine> virtualMachine;
  std::optional<bool> shouldTerminateOnLastHandleClosed;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Owner", owner);
    HCS_FIELD("SchemaVersion", schemaVersion);
    HCS_FIELD("HostingSystemId", hostingSystemId);
    HCS_FIELD("HostedSystem", hostedSystem);
    HCS_FIELD("Container", container);
    HCS_FIELD("VirtualMachine", virtualMachine);
    HCS_FIELD("ShouldTerminateOnLastHandleClosed", shouldTerminateOnLastHandleClosed);
  }
};

struct ProcessParameters {
  std::optional<std::string> applicationName;
  std::optional<std::string> commandLine;
  std::vector<std::string> commandArgs;
  std::optional<std::string> user;
  std::optional<std::string> workingDirectory;
  std::map<std::string, std::string> environment;
  std::optional<bool> restrictedToken;
  std::optional<bool> emulateConsole;
  std::optional<bool> createStdInPipe;
  std::optional<bool> createStdOutPipe;
  std::optional<bool> createStdErrPipe;
  std::vector<uint16_t> consoleSize;  // [height, width]
  std::optional<bool> createInUtilityVm;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ApplicationName", applicationName);
    HCS_FIELD("CommandLine", commandLine);
    HCS_FIELD("CommandArgs", commandArgs);
    HCS_FIELD("User", user);
    HCS_FIELD("WorkingDirectory", workingDirectory);
    HCS_FIELD("Environment", environment);
    HCS_FIELD("RestrictedToken", restrictedToken);
    HCS_FIELD("EmulateConsole", emulateConsole);
    HCS_FIELD("CreateStdInPipe", createStdInPipe);
    HCS_FIELD("CreateStdOutPipe", createStdOutPipe);
    HCS_FIELD("CreateStdErrPipe", createStdErrPipe);
    HCS_FIELD("ConsoleSize", consoleSize);
    HCS_FIELD("CreateInUtilityVM", createInUtilityVm);
  }
};

struct ProcessStatus {
  std::optional<uint32_t> processId;
  std::optional<bool> exited;
  std::optional<uint32_t> exitCode;
  std::optional<int32_t> lastWaitResult;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ProcessId", processId);
    HCS_FIELD("Exited", exited);
    HCS_FIELD("ExitCode", exitCode);
    HCS_FIELD("LastWaitResult", lastWaitResult);
  }
};

struct ProcessDetails {
  std::optional<uint32_t> processId;
  std::optional<std::string> imageName;
  std::optional<std::string> createTimestamp;
  std::optional<uint64_t> userTime100ns;
  std::optional<uint64_t> kernelTime100ns;
  std::optional<uint64_t> memoryCommitBytes;
  std::optional<uint64_t> memoryWorkingSetPrivateBytes;
  std::optional<uint64_t> memoryWorkingSetSharedBytes;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ProcessId", processId);
    HCS_FIELD("ImageName", imageName);
    HCS_FIELD("CreateTimestamp", createTimestamp);
    HCS_FIELD("UserTime100ns", userTime100ns);
    HCS_FIELD("KernelTime100ns", kernelTime100ns);
    HCS_FIELD("MemoryCommitBytes", memoryCommitBytes);
    HCS_FIELD("MemoryWorkingSetPrivateBytes", memoryWorkingSetPrivateBytes);
    HCS_FIELD("MemoryWorkingSetSharedBytes", memoryWorkingSetSharedBytes);
  }
};

struct ProcessorStats {
  std::optional<uint64_t> totalRuntime100ns;
  std::optional<uint64_t> runtimeUser100ns;
  std::optional<uint64_t> runtimeKernel100ns;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("TotalRuntime100ns", totalRuntime100ns);
    HCS_FIELD("RuntimeUser100ns", runtimeUser100ns);
    HCS_FIELD("RuntimeKernel100ns", runtimeKernel100ns);
  }
};

struct MemoryStats {
  std::optional<uint64_t> memoryUsageCommitBytes;
  std::optional<uint64_t> memoryUsageCommitPeakBytes;
  std::optional<uint64_t> memoryUsagePrivateWorkingSetBytes;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("MemoryUsageCommitBytes", memoryUsageCommitBytes);
    HCS_FIELD("MemoryUsageCommitPeakBytes", memoryUsageCommitPeakBytes);
    HCS_FIELD("MemoryUsagePrivateWorkingSetBytes", memoryUsagePrivateWorkingSetBytes);
  }
};

struct StorageStats {
  std::optional<uint64_t> readCountNormalized;
  std::optional<uint64_t> readSizeBytes;
  std::optional<uint64_t> writeCountNormalized;
  std::optional<uint64_t> writeSizeBytes;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ReadCountNormalized", readCountNormalized);
    HCS_FIELD("ReadSizeBytes", readSizeBytes);
    HCS_FIELD("WriteCountNormalized", writeCountNormalized);
    HCS_FIELD("WriteSizeBytes", writeSizeBytes);
  }
};

struct Statistics {
  std::optional<std::string> timestamp;  // RFC 3339
  std::optional<std::string> containerStartTime;
  std::optional<uint64_t> uptime100ns;
  std::optional<ProcessorStats> processor;
  std::optional<MemoryStats> memory;
  std::optional<StorageStats> storage;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Timestamp", timestamp);
    HCS_FIELD("ContainerStartTime", containerStartTime);
    HCS_FIELD("Uptime100ns", uptime100ns);
    HCS_FIELD("Processor", processor);
    HCS_FIELD("Memory", memory);
    HCS_FIELD("Storage", storage);
  }
};

struct PropertyQuery {
  std::vector<std::string> propertyTypes;
  Json queries;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("PropertyTypes", propertyTypes);
    HCS_FIELD("Queries", queries);
  }
};

// Property type served only by the fake HCS (real HCS refuses it): the
// system's current ComputeSystem document with every Modify applied, so a
// test can see the devices it hot-added. Reported as Properties.Configuration.
inline constexpr const char* kConfigurationPropertyType = "Configuration";

struct Properties {
  std::optional<std::string> id;
  std::optional<std::string> systemType;     // "Container", "VirtualMachine"
  std::optional<std::string> runtimeOsType;  // "Linux", "Windows"
  std::optional<std::string> name;
  std::optional<std::string> owner;
  std::optional<std::string> runtimeId;
  std::optional<std::string> state;  // "Created", "Running", "Paused", "Stopped", "SavedAsTemplate"
  std::optional<bool> stopped;
  std::optional<std::string> exitType;
  std::optional<Statistics> statistics;
  std::vector<ProcessDetails> processList;
  std::optional<bool> terminateOnLastHandleClosed;
  std::optional<std::string> systemGuid;
  std::optional<std::string> hostingSystemId;
  Json guestConnectionInfo;
  Json memory;
  Json lcowMetrics;
  Json configuration;  // fake HCS extension, see kConfigurationPropertyType
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Id", id);
    HCS_FIELD("SystemType", systemType);
    HCS_FIELD("RuntimeOsType", runtimeOsType);
    HCS_FIELD("Name", name);
    HCS_FIELD("Owner", owner);
    HCS_FIELD("RuntimeId", runtimeId);
    HCS_FIELD("State", state);
    HCS_FIELD("Stopped", stopped);
    HCS_FIELD("ExitType", exitType);
    HCS_FIELD("Statistics", statistics);
    HCS_FIELD("ProcessList", processList);
    HCS_FIELD("TerminateOnLastHandleClosed", terminateOnLastHandleClosed);
    HCS_FIELD("SystemGUID", systemGuid);
    HCS_FIELD("HostingSystemId", hostingSystemId);
    HCS_FIELD("GuestConnectionInfo", guestConnectionInfo);
    HCS_FIELD("Memory", memory);
    HCS_FIELD("LCOWMetrics", lcowMetrics);
    HCS_FIELD("Configuration", configuration);
  }
};

struct ModifySettingRequest {
  std::optional<std::string> resourcePath;
  std::optional<std::string> requestType;  // "Add", "Remove", "Update", "PreAdd"
  Json settings;
  Json guestRequest;  // {RequestType, ResourceType, Settings}
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ResourcePath", resourcePath);
    HCS_FIELD("RequestType", requestType);
    HCS_FIELD("Settings", settings);
    HCS_FIELD("GuestRequest", guestRequest);
  }
};

struct ErrorEvent {
  std::optional<std::string> message;
  std::optional<std::string> stackTrace;
  std::optional<std::string> provider;
  std::optional<uint32_t> eventId;
  std::optional<uint32_t> flags;
  std::optional<std::string> source;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Message", message);
    HCS_FIELD("StackTrace", stackTrace);
    HCS_FIELD("Provider", provider);
    HCS_FIELD("EventId", eventId);
    HCS_FIELD("Flags", flags);
    HCS_FIELD("Source", source);
  }
};

// ResultError: the result document of a failed HCS call.
struct ResultError {
  std::optional<int32_t> error;  // HRESULT as int32
  std::optional<std::string> errorMessage;
  std::vector<ErrorEvent> errorEvents;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Error", error);
    HCS_FIELD("ErrorMessage", errorMessage);
    HCS_FIELD("ErrorEvents", errorEvents);
  }
};

#undef HCS_FIELD

// errorEventFor describes a failure as one ErrorEvent (what HCS attaches).
ErrorEvent errorEventFor(const Status& status);

// withErrorEvent returns status carrying an ErrorEvents array (one event
// describing it) unless it already carries some.
Status withErrorEvent(const Status& status);

// resultDocument renders a Status as the HCS result document ("" when OK),
// with the status's ErrorEvents (or one describing it).
std::string resultDocument(const Status& status);

// statusFromResult turns an HRESULT plus result document back into a Status
// (the message from ErrorMessage, or the document itself if it does not parse).
Status statusFromResult(HResult hr, std::string_view resultDoc, std::string op, std::string id);

}  // namespace hcsshim::schema
