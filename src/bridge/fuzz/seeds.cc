#include "src/bridge/fuzz/seeds.h"

#include "src/bridge/messages.h"
#include "src/bridge/protocol.h"

namespace hcsshim::bridge {

std::vector<std::string> fuzzSeeds() {
  std::vector<std::pair<uint32_t, std::string>> docs = {
      {msg::kNegotiateProtocol, R"({"ContainerId":"","ActivityId":"a","MinimumVersion":4,"MaximumVersion":4})"},
      {msg::kCreate,
       R"({"ContainerId":"c","ActivityId":"a","ContainerConfig":"{\"SchemaVersion\":{\"Major\":2,\"Minor\":1},\"OciBundlePath\":\"/run/gcs/c/c\",\"OciSpecification\":{\"root\":{\"path\":\"/run/c/rootfs\"},\"process\":{\"args\":[\"sh\"]}}}"})"},
      {msg::kStart, R"({"ContainerId":"c","ActivityId":"a"})"},
      {msg::kShutdownForced, R"({"ContainerId":"c","ActivityId":"a"})"},
      {msg::kExecuteProcess,
       R"({"ContainerId":"c","ActivityId":"a","Settings":{"ProcessParameters":"{\"CommandArgs\":[\"ls\"],\"EmulateConsole\":true,\"ConsoleSize\":[24,80],\"OciProcess\":{\"args\":[\"ls\"]}}","VsockStdioRelaySettings":{"StdIn":1073741825,"StdOut":1073741826}}})"},
      {msg::kWaitForProcess, R"({"ContainerId":"c","ActivityId":"a","ProcessId":7,"TimeoutInMs":4294967295})"},
      {msg::kSignalProcess, R"({"ContainerId":"c","ActivityId":"a","ProcessId":7,"Options":{"Signal":15}})"},
      {msg::kResizeConsole, R"({"ContainerId":"c","ActivityId":"a","ProcessId":7,"Height":40,"Width":120})"},
      {msg::kGetProperties, R"({"ContainerId":"c","ActivityId":"a","Query":"{\"PropertyTypes\":[\"ProcessList\"]}"})"},
      {msg::kModifySettings,
       R"({"ContainerId":"c","ActivityId":"a","Request":{"ResourceType":"CombinedLayers","RequestType":"Add","Settings":{"ContainerRootPath":"/run/c/rootfs","Layers":[{"Path":"/run/layers/0"}],"ScratchPath":"/run/scratch/c"}}})"},
      {msg::kModifySettings,
       R"({"ContainerId":"c","ActivityId":"a","Request":{"ResourceType":"MappedVirtualDisk","RequestType":"Add","Settings":{"MountPath":"/run/mounts/scsi/m0","Controller":0,"Lun":3,"ReadOnly":true}}})"},
      {msg::kDumpStacks, R"({"ContainerId":"","ActivityId":"a"})"},
      {responseTypeOf(msg::kExecuteProcess), R"({"Result":0,"ActivityId":"a","ProcessId":42})"},
      {responseTypeOf(msg::kGetProperties),
       R"({"Result":-2147024809,"ErrorMessage":"bad","ErrorRecords":[{"Result":-2147024809,"Message":"bad"}],"Properties":"{\"ProcessList\":[{\"ProcessId\":1}]}"})"},
      {msg::kContainerNotification, R"({"ContainerId":"c","ActivityId":"a","Type":"UnexpectedExit","Operation":"None","Result":137})"},
  };
  std::vector<std::string> seeds;
  std::string stream;
  uint64_t id = 1;
  for (auto& [type, doc] : docs) {
    auto f = encodeFrame(type, id++, doc);
    if (!f.ok()) continue;
    seeds.push_back(*f);
    stream += *f;
  }
  seeds.push_back(stream);
  return seeds;
}

}  // namespace hcsshim::bridge
