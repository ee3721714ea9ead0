// records.h: the fake HCS's per-object state (internal to hcs_fake).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hcs_fake/service.h"
#include "src/runtime/process.h"

namespace hcsshim::hcs_fake {

struct ProcessRecord {
  std::weak_ptr<SystemRecord> system;
  std::string systemId;
  uint32_t pid = 0;
  std::string imageName;
  int64_t createdWallNanos = 0;
  bool console = false;
  std::vector<uint16_t> consoleSize;
  std::unique_ptr<runtime::Process> proc;
  // The host ends of stdio, shared with the client's streams so that
  // ModifyProcess(CloseHandle) can close them from the HCS side.
  std::shared_ptr<runtime::Stream> stdio[3];
  std::optional<runtime::ExitStatus> exit;
  std::map<uint64_t, hcs::EventCallback> callbacks;
};

struct SystemRecord {
  std::string id;
  schema::ComputeSystem doc;
  std::string systemType;  // "Container" | "VirtualMachine"
  std::string runtimeId;   // a GUID
  SystemState state = SystemState::kCreated;
  bool guestStopRequested = false;  // the VM backend was told to stop the guest
  bool busy = false;       // an operation is pending
  bool saved = false;
  std::string exitType;
  HResult exitStatus = 0;
  bool terminateOnLastHandleClosed = false;
  int64_t startWallNanos = 0;
  runtime::TimePoint startMono{0};
  std::set<uint64_t> handles;
  std::map<uint64_t, hcs::EventCallback> callbacks;
  std::map<uint32_t, std::shared_ptr<ProcessRecord>> processes;
  // Container systems: a holder process that owns the container's pid, mount,
  // UTS and IPC namespaces (PID 1 there); every process joins them. Null when
  // the host does not allow namespaces (processes then run unisolated).
  std::unique_ptr<runtime::Process> init;
  // Container systems: the freezer group every process of the system (and
  // so every descendant) is in; empty when the fake has no freezer.
  std::vector<std::string> cgroups;
};

}  // namespace hcsshim::hcs_fake
