// hns.h: HNS v1 and HCN (HNS v2) documents with their exact wire names
// (facts: ../shared/facts/hns-hcn.md; field spellings as hcsshim marshals
// them). Go's omitempty maps to std::optional / empty vectors (omitted when
// absent); fields Go always emits are plain members.
//
//   auto net = schema::decode<schema::HostComputeNetwork>(text);
//   for (auto& ipam : net->ipams) for (auto& s : ipam.subnets) ... s.ipAddressPrefix ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/schema/hcs.h"

namespace hcsshim::schema {

#define HCS_FIELD(wire, member) v(wire, s.member)

// ---------------------------------------------------------------- HNS v1

// v1 PolicyType values (the "Type" strings). hcsshim spells VNet "VNET" on
// the wire; "VNet" is accepted on input and normalised.
namespace v1policy {
inline constexpr const char* kNat = "NAT";
inline constexpr const char* kAcl = "ACL";
inline constexpr const char* kPa = "PA";
inline constexpr const char* kVlan = "VLAN";
inline constexpr const char* kVsid = "VSID";
inline constexpr const char* kVNet = "VNET";
inline constexpr const char* kL2Driver = "L2Driver";
inline constexpr const char* kIsolation = "Isolation";
inline constexpr const char* kQos = "QOS";
inline constexpr const char* kOutboundNat = "OutBoundNAT";
inline constexpr const char* kElb = "ELB";
inline constexpr const char* kRoute = "ROUTE";
inline constexpr const char* kProxy = "PROXY";
}  // namespace v1policy

// ActionType / DirectionType / RuleType values.
inline constexpr const char* kActionAllow = "Allow";
inline constexpr const char* kActionBlock = "Block";
inline constexpr const char* kDirectionIn = "In";
inline constexpr const char* kDirectionOut = "Out";
inline constexpr const char* kRuleHost = "Host";
inline constexpr const char* kRuleSwitch = "Switch";

struct NatPolicy {
  std::string type = v1policy::kNat;
  std::optional<std::string> protocol;
  std::optional<uint16_t> internalPort;
  std::optional<uint16_t> externalPort;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("Protocol", protocol);
    HCS_FIELD("InternalPort", internalPort);
    HCS_FIELD("ExternalPort", externalPort);
  }
};

struct AclPolicy {
  std::string type = v1policy::kAcl;
  std::optional<std::string> id;
  std::optional<uint16_t> protocol;
  std::optional<std::string> protocols;
  std::optional<uint16_t> internalPort;
  std::string action;     // Allow | Block
  std::string direction;  // In | Out
  std::optional<std::string> localAddresses;
  std::optional<std::string> remoteAddresses;
  std::optional<std::string> localPorts;
  std::optional<uint16_t> localPort;
  std::optional<std::string> remotePorts;
  std::optional<uint16_t> remotePort;
  std::optional<std::string> ruleType;  // Host | Switch
  std::optional<uint16_t> priority;
  std::optional<std::string> serviceName;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("Id", id);
    HCS_FIELD("Protocol", protocol);
    HCS_FIELD("Protocols", protocols);
    HCS_FIELD("InternalPort", internalPort);
    HCS_FIELD("Action", action);
    HCS_FIELD("Direction", direction);
    HCS_FIELD("LocalAddresses", localAddresses);
    HCS_FIELD("RemoteAddresses", remoteAddresses);
    HCS_FIELD("LocalPorts", localPorts);
    HCS_FIELD("LocalPort", localPort);
    HCS_FIELD("RemotePorts", remotePorts);
    HCS_FIELD("RemotePort", remotePort);
    HCS_FIELD("RuleType", ruleType);
    HCS_FIELD("Priority", priority);
    HCS_FIELD("ServiceName", serviceName);
  }
};

struct PaPolicy {
  std::string type = v1policy::kPa;
  std::string pa;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("PA", pa);
  }
};

struct VlanPolicy {
  std::string type = v1policy::kVlan;
  uint32_t vlan = 0;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("VLAN", vlan);
  }
};

struct VsidPolicy {
  std::string type = v1policy::kVsid;
  uint32_t vsid = 0;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("VSID", vsid);
  }
};

struct IsolationPolicy {
  std::string type = v1policy::kIsolation;
  uint32_t vlan = 0;
  uint32_t vsid = 0;
  bool inDefaultIsolation = false;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("VLAN", vlan);
    HCS_FIELD("VSID", vsid);
    HCS_FIELD("InDefaultIsolation", inDefaultIsolation);
  }
};

struct QosPolicy {
  std::string type = v1policy::kQos;
  uint64_t maximumOutgoingBandwidthInBytes = 0;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("MaximumOutgoingBandwidthInBytes", maximumOutgoingBandwidthInBytes);
  }
};

struct OutboundNatPolicy {
  std::string type = v1policy::kOutboundNat;
  std::optional<std::string> vip;
  std::vector<std::string> exceptions;
  std::vector<std::string> destinations;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("VIP", vip);
    HCS_FIELD("ExceptionList", exceptions);
    HCS_FIELD("Destinations", destinations);
  }
};

struct ProxyPolicy {
  std::string type = v1policy::kProxy;
  std::optional<std::string> ip;
  std::optional<std::string> port;
  std::vector<std::string> exceptionList;
  std::optional<std::string> destination;
  std::optional<bool> outboundNat;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("IP", ip);
    HCS_FIELD("Port", port);
    HCS_FIELD("ExceptionList", exceptionList);
    HCS_FIELD("Destination", destination);
    HCS_FIELD("OutboundNat", outboundNat);
  }
};

struct RoutePolicy {
  std::string type = v1policy::kRoute;
  std::optional<std::string> destinationPrefix;
  std::optional<std::string> nextHop;
  std::optional<bool> encapEnabled;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("DestinationPrefix", destinationPrefix);
    HCS_FIELD("NextHop", nextHop);
    HCS_FIELD("NeedEncap", encapEnabled);
  }
};

// ELB: an LBPolicy (Protocol, ports always sent) plus the VIPs.
struct ElbPolicy {
  std::string type = v1policy::kElb;
  std::optional<uint16_t> protocol;
  uint16_t internalPort = 0;
  uint16_t externalPort = 0;
  std::optional<std::string> sourceVip;
  std::vector<std::string> vips;
  std::optional<bool> ilb;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("Protocol", protocol);
    HCS_FIELD("InternalPort", internalPort);
    HCS_FIELD("ExternalPort", externalPort);
    HCS_FIELD("SourceVIP", sourceVip);
    HCS_FIELD("VIPs", vips);
    HCS_FIELD("ILB", ilb);
  }
};

// A policy of a type without its own fields (VNET, L2Driver): {"Type": ...}.
struct GenericPolicy {
  std::string type;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
  }
};

// checkAclValues: Action Allow|Block, Direction In|Out, RuleType Host|Switch
// (v1 ACL policies and v2 ACL/TierAcl settings); InvalidArgument naming the field.
Status checkAclValues(const std::string& path, const std::string& action, const std::string& direction,
                      const std::optional<std::string>& ruleType);

// validateV1Policy decodes a v1 policy by its Type and checks its values
// (Action/Direction/RuleType spellings, ports, addresses); the normalised
// document on success. InvalidArgument naming `path` otherwise; an unknown
// Type is InvalidArgument too.
StatusOr<Json> validateV1Policy(const Json& policy, const std::string& path);

struct V1Subnet {
  std::optional<std::string> addressPrefix;
  std::optional<std::string> gatewayAddress;
  std::vector<Json> policies;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("AddressPrefix", addressPrefix);
    HCS_FIELD("GatewayAddress", gatewayAddress);
    HCS_FIELD("Policies", policies);
  }
};

// A MAC range: v1 MacPools entries and HCN MacPool.Ranges share the shape.
struct MacRange {
  std::optional<std::string> startMacAddress;
  std::optional<std::string> endMacAddress;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("StartMacAddress", startMacAddress);
    HCS_FIELD("EndMacAddress", endMacAddress);
  }
};
using V1MacPool = MacRange;

// HNSNetwork (v1 /networks).
struct HnsNetwork {
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::optional<std::string> type;
  std::optional<std::string> networkAdapterName;
  std::optional<std::string> sourceMac;
  std::vector<Json> policies;
  std::vector<V1MacPool> macPools;
  std::vector<V1Subnet> subnets;
  std::optional<std::string> dnsSuffix;
  std::optional<std::string> dnsServerList;
  std::optional<std::string> managementIp;
  std::optional<bool> automaticDns;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Id", id);
    HCS_FIELD("Name", name);
    HCS_FIELD("Type", type);
    HCS_FIELD("NetworkAdapterName", networkAdapterName);
    HCS_FIELD("SourceMac", sourceMac);
    HCS_FIELD("Policies", policies);
    HCS_FIELD("MacPools", macPools);
    HCS_FIELD("Subnets", subnets);
    HCS_FIELD("DNSSuffix", dnsSuffix);
    HCS_FIELD("DNSServerList", dnsServerList);
    HCS_FIELD("ManagementIP", managementIp);
    HCS_FIELD("AutomaticDNS", automaticDns);
  }
};

// HNSEndpoint (v1 /endpoints).
struct HnsEndpoint {
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::optional<std::string> virtualNetwork;
  std::optional<std::string> virtualNetworkName;
  std::vector<Json> policies;
  std::optional<std::string> macAddress;
  std::optional<std::string> ipAddress;
  std::optional<std::string> ipv6Address;
  std::optional<std::string> dnsSuffix;
  std::optional<std::string> dnsServerList;
  std::optional<std::string> gatewayAddress;
  std::optional<bool> enableInternalDns;
  std::optional<bool> disableIcc;
  std::optional<uint8_t> prefixLength;
  std::optional<bool> isRemoteEndpoint;
  std::optional<std::string> namespaceId;  // HNS reports the attached compartment
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ID", id);
    HCS_FIELD("Name", name);
    HCS_FIELD("VirtualNetwork", virtualNetwork);
    HCS_FIELD("VirtualNetworkName", virtualNetworkName);
    HCS_FIELD("Policies", policies);
    HCS_FIELD("MacAddress", macAddress);
    HCS_FIELD("IPAddress", ipAddress);
    HCS_FIELD("IPv6Address", ipv6Address);
    HCS_FIELD("DNSSuffix", dnsSuffix);
    HCS_FIELD("DNSServerList", dnsServerList);
    HCS_FIELD("GatewayAddress", gatewayAddress);
    HCS_FIELD("EnableInternalDNS", enableInternalDns);
    HCS_FIELD("DisableICC", disableIcc);
    HCS_FIELD("PrefixLength", prefixLength);
    HCS_FIELD("IsRemoteEndpoint", isRemoteEndpoint);
    HCS_FIELD("Namespace", namespaceId);
  }
};

// PolicyList (v1 /policylists): ELB and ROUTE policies over endpoints.
struct HnsPolicyList {
  std::optional<std::string> id;
  std::vector<std::string> endpointReferences;  // "/endpoints/<id>"
  std::vector<Json> policies;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ID", id);
    HCS_FIELD("References", endpointReferences);
    HCS_FIELD("Policies", policies);
  }
};

// v1 responses: {"Success": bool, "Error": "...", "Output": ...}.
struct HnsResponse {
  bool success = false;
  std::optional<std::string> error;
  Json output;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Success", success);
    HCS_FIELD("Error", error);
    HCS_FIELD("Output", output);
  }
};

// ---------------------------------------------------------------- HCN (v2)

struct HcnVersion {  // SchemaVersion, and the HNS version (globals)
  uint32_t major = 0;
  uint32_t minor = 0;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Major", major);
    HCS_FIELD("Minor", minor);
  }
  friend bool operator<(const HcnVersion& a, const HcnVersion& b) {
    return a.major != b.major ? a.major < b.major : a.minor < b.minor;
  }
};

// HostComputeQuery: {SchemaVersion, Flags (0 none, 1 detailed), Filter: a
// JSON object as a string, e.g. "{\"Name\":\"nat\"}"}.
struct HostComputeQuery {
  std::optional<HcnVersion> schemaVersion;
  std::optional<uint32_t> flags;
  std::optional<std::string> filter;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("SchemaVersion", schemaVersion);
    HCS_FIELD("Flags", flags);
    HCS_FIELD("Filter", filter);
  }
};

// A v2 policy: {"Type": "...", "Settings": {...}} (network, endpoint, subnet).
struct HcnPolicy {
  std::string type;
  Json settings;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("Settings", settings);
  }
};

// Endpoint policy types.
namespace endpointpolicy {
inline constexpr const char* kPortMapping = "PortMapping";
inline constexpr const char* kAcl = "ACL";
inline constexpr const char* kQos = "QOS";
inline constexpr const char* kL2Driver = "L2Driver";
inline constexpr const char* kOutBoundNat = "OutBoundNAT";
inline constexpr const char* kSdnRoute = "SDNRoute";
inline constexpr const char* kL4Proxy = "L4Proxy";
inline constexpr const char* kL4WfpProxy = "L4WFPPROXY";
inline constexpr const char* kPortName = "PortName";
inline constexpr const char* kEncapOverhead = "EncapOverhead";
inline constexpr const char* kProviderAddress = "ProviderAddress";
inline constexpr const char* kInterfaceConstraint = "InterfaceConstraint";
inline constexpr const char* kIov = "Iov";
inline constexpr const char* kTierAcl = "TierAcl";
}  // namespace endpointpolicy

// Settings of the endpoint policies the fake understands field by field.
struct PortMappingPolicySetting {
  std::optional<uint32_t> protocol;  // 6 TCP, 17 UDP
  std::optional<uint16_t> internalPort;
  std::optional<uint16_t> externalPort;
  std::optional<std::string> vip;
  std::optional<uint32_t> flags;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Protocol", protocol);
    HCS_FIELD("InternalPort", internalPort);
    HCS_FIELD("ExternalPort", externalPort);
    HCS_FIELD("VIP", vip);
    HCS_FIELD("Flags", flags);
  }
};

struct AclPolicySetting {
  std::optional<std::string> protocols;
  std::string action;
  std::string direction;
  std::optional<std::string> localAddresses;
  std::optional<std::string> remoteAddresses;
  std::optional<std::string> localPorts;
  std::optional<std::string> remotePorts;
  std::optional<std::string> ruleType;
  std::optional<uint16_t> priority;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Protocols", protocols);
    HCS_FIELD("Action", action);
    HCS_FIELD("Direction", direction);
    HCS_FIELD("LocalAddresses", localAddresses);
    HCS_FIELD("RemoteAddresses", remoteAddresses);
    HCS_FIELD("LocalPorts", localPorts);
    HCS_FIELD("RemotePorts", remotePorts);
    HCS_FIELD("RuleType", ruleType);
    HCS_FIELD("Priority", priority);
  }
};

struct QosPolicySetting {
  uint64_t maximumOutgoingBandwidthInBytes = 0;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("MaximumOutgoingBandwidthInBytes", maximumOutgoingBandwidthInBytes);
  }
};

struct OutboundNatPolicySetting {
  std::optional<std::string> virtualIp;
  std::vector<std::string> exceptions;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("VirtualIP", virtualIp);
    HCS_FIELD("Exceptions", exceptions);
  }
};

struct SdnRoutePolicySetting {
  std::optional<std::string> destinationPrefix;
  std::optional<std::string> nextHop;
  std::optional<bool> needEncap;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("DestinationPrefix", destinationPrefix);
    HCS_FIELD("NextHop", nextHop);
    HCS_FIELD("NeedEncap", needEncap);
  }
};

// Subnet policy settings (VLAN, VSID).
struct IsolationIdSetting {
  uint32_t isolationId = 0;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("IsolationId", isolationId);
  }
};

struct HcnRoute {
  std::optional<std::string> nextHop;
  std::optional<std::string> destinationPrefix;
  std::optional<uint16_t> metric;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("NextHop", nextHop);
    HCS_FIELD("DestinationPrefix", destinationPrefix);
    HCS_FIELD("Metric", metric);
  }
};

struct HcnSubnet {
  std::optional<std::string> ipAddressPrefix;
  std::vector<HcnPolicy> policies;
  std::vector<HcnRoute> routes;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("IpAddressPrefix", ipAddressPrefix);
    HCS_FIELD("Policies", policies);
    HCS_FIELD("Routes", routes);
  }
};

struct HcnIpam {
  std::optional<std::string> type;  // Static, DHCP
  std::vector<HcnSubnet> subnets;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("Subnets", subnets);
  }
};

using HcnMacRange = MacRange;

struct HcnMacPool {
  std::vector<HcnMacRange> ranges;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Ranges", ranges);
  }
};

struct HcnDns {
  std::optional<std::string> domain;
  std::optional<std::string> suffix;
  std::vector<std::string> search;
  std::vector<std::string> serverList;
  std::vector<std::string> options;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Domain", domain);
    HCS_FIELD("Suffix", suffix);
    HCS_FIELD("Search", search);
    HCS_FIELD("ServerList", serverList);
    HCS_FIELD("Options", options);
  }
};

inline constexpr const char* kNetworkTypes[] = {"NAT", "Transparent", "L2Bridge", "L2Tunnel", "ICS", "Private", "Overlay"};

struct HostComputeNetwork {
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::optional<std::string> type;
  std::vector<HcnPolicy> policies;
  std::optional<HcnMacPool> macPool;
  std::optional<HcnDns> dns;
  std::vector<HcnIpam> ipams;
  std::optional<uint32_t> flags;
  std::optional<HcnVersion> schemaVersion;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ID", id);
    HCS_FIELD("Name", name);
    HCS_FIELD("Type", type);
    HCS_FIELD("Policies", policies);
    HCS_FIELD("MacPool", macPool);
    HCS_FIELD("Dns", dns);
    HCS_FIELD("Ipams", ipams);
    HCS_FIELD("Flags", flags);
    HCS_FIELD("SchemaVersion", schemaVersion);
  }
};

struct HcnIpConfig {
  std::optional<std::string> ipAddress;
  std::optional<uint8_t> prefixLength;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("IpAddress", ipAddress);
    HCS_FIELD("PrefixLength", prefixLength);
  }
};

struct HostComputeEndpoint {
  std::optional<std::string> id;
  std::optional<std::string> name;
  std::optional<std::string> hostComputeNetwork;
  std::optional<std::string> hostComputeNamespace;
  std::vector<HcnPolicy> policies;
  std::vector<HcnIpConfig> ipConfigurations;
  std::optional<HcnDns> dns;
  std::vector<HcnRoute> routes;
  std::optional<std::string> macAddress;
  std::optional<uint32_t> flags;  // 1: remote endpoint
  std::optional<HcnVersion> schemaVersion;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ID", id);
    HCS_FIELD("Name", name);
    HCS_FIELD("HostComputeNetwork", hostComputeNetwork);
    HCS_FIELD("HostComputeNamespace", hostComputeNamespace);
    HCS_FIELD("Policies", policies);
    HCS_FIELD("IpConfigurations", ipConfigurations);
    HCS_FIELD("Dns", dns);
    HCS_FIELD("Routes", routes);
    HCS_FIELD("MacAddress", macAddress);
    HCS_FIELD("Flags", flags);
    HCS_FIELD("SchemaVersion", schemaVersion);
  }
};

struct NamespaceResource {
  std::string type;  // Container | Endpoint
  Json data;         // {"ID": "..."}
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Type", type);
    HCS_FIELD("Data", data);
  }
};

struct HostComputeNamespace {
  std::optional<std::string> id;
  std::optional<uint32_t> namespaceId;
  std::optional<std::string> type;  // Host | HostDefault | Guest | GuestDefault
  std::vector<NamespaceResource> resources;
  std::optional<HcnVersion> schemaVersion;
  std::optional<bool> readyOnCreate;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ID", id);
    HCS_FIELD("NamespaceId", namespaceId);
    HCS_FIELD("Type", type);
    HCS_FIELD("Resources", resources);
    HCS_FIELD("SchemaVersion", schemaVersion);
    HCS_FIELD("ReadyOnCreate", readyOnCreate);
  }
};

struct LoadBalancerPortMapping {
  std::optional<uint32_t> protocol;  // 6 TCP, 17 UDP
  std::optional<uint16_t> internalPort;
  std::optional<uint16_t> externalPort;
  std::optional<uint32_t> distributionType;  // 0 none, 1 SourceIPProtocol, 2 SourceIP (session affinity)
  std::optional<uint32_t> flags;             // 1 ILB, 2 LocalRoutedVip, ...
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Protocol", protocol);
    HCS_FIELD("InternalPort", internalPort);
    HCS_FIELD("ExternalPort", externalPort);
    HCS_FIELD("DistributionType", distributionType);
    HCS_FIELD("Flags", flags);
  }
};

inline constexpr uint32_t kLoadBalancerFlagsDsr = 1;

struct HostComputeLoadBalancer {
  std::optional<std::string> id;
  std::vector<std::string> hostComputeEndpoints;
  std::optional<std::string> sourceVip;
  std::vector<std::string> frontendVips;
  std::vector<LoadBalancerPortMapping> portMappings;
  std::optional<uint32_t> flags;  // 1: DSR
  std::optional<HcnVersion> schemaVersion;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ID", id);
    HCS_FIELD("HostComputeEndpoints", hostComputeEndpoints);
    HCS_FIELD("SourceVIP", sourceVip);
    HCS_FIELD("FrontendVIPs", frontendVips);
    HCS_FIELD("PortMappings", portMappings);
    HCS_FIELD("Flags", flags);
    HCS_FIELD("SchemaVersion", schemaVersion);
  }
};

// HostComputeRoute: an SDN route over endpoints.
struct HostComputeRoute {
  std::optional<std::string> id;
  std::vector<std::string> hostComputeEndpoints;
  std::vector<SdnRoutePolicySetting> setting;
  std::optional<HcnVersion> schemaVersion;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ID", id);
    HCS_FIELD("HostComputeEndpoints", hostComputeEndpoints);
    HCS_FIELD("Setting", setting);
    HCS_FIELD("SchemaVersion", schemaVersion);
  }
};

// Modify requests: {ResourceType, RequestType (Add|Remove|Update|Refresh), Settings}.
struct HcnModifyRequest {
  std::optional<std::string> resourceType;
  std::optional<std::string> requestType;
  Json settings;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("ResourceType", resourceType);
    HCS_FIELD("RequestType", requestType);
    HCS_FIELD("Settings", settings);
  }
};

// PolicyNetworkRequest / PolicyEndpointRequest: {"Policies": [...]}.
struct PolicyRequest {
  std::vector<HcnPolicy> policies;
  Json extra;
  template <typename S, typename V>
  static void fields(S& s, V& v) {
    HCS_FIELD("Policies", policies);
  }
};

// ---------------------------------------------------------------- addresses

// An IPv4 or IPv6 address, parsed.
struct IpAddress {
  bool v6 = false;
  uint8_t bytes[16] = {};
  std::string toString() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};
StatusOr<IpAddress> parseIp(const std::string& text);

// A prefix "10.0.0.0/24" (host bits must be zero).
struct IpPrefix {
  IpAddress address;
  int length = 0;
  bool contains(const IpAddress& a) const;
};
StatusOr<IpPrefix> parsePrefix(const std::string& text);

// A MAC "00-15-5D-01-02-03" (HNS style) or with colons; 48 bits.
StatusOr<uint64_t> parseMac(const std::string& text);
std::string formatMac(uint64_t mac);  // HNS style: 00-15-5D-01-02-03

#undef HCS_FIELD

}  // namespace hcsshim::schema
