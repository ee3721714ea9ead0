// recording.h: HCS traffic recorded at the HcsApi seam, and replayed.
//
// RecordingHcsApi wraps any HcsApi (computecore.dll on a vendor's host, the
// fake daemon here) and writes every call, its documents, its result and
// every notification as JSON lines, with times relative to the first call.
// ReplayHcsApi is a scripted HCS that answers a client from such a
// recording: the same calls in the same order get the recorded results and
// notifications; the first call that differs fails, and divergence() says
// precisely where (call number, call, field, expected, got). A failure seen
// on a vendor's host thus becomes a test on Linux.
//
//   RecordingHcsApi rec(realHcs, loop, [&](const std::string& line) { out << line << "\n"; });
//   ... drive `rec` ...
//   auto replay = ReplayHcsApi::load(loop, text);   // InvalidArgument naming the bad line
//   ... drive *replay the same way; (*replay)->divergence() is "" if it matched ...
//
// Lines (one JSON object each):
//   {"call":N,"op":"createComputeSystem","start_ms":T,"end_ms":T,
//    "args":{"id":"vm1","configuration":"<document text>"},
//    "result":{"hr":"0x00000000","handle":1}}            (or "value":"<document>",
//                                                          "pid":P, "message":"<error>")
//   {"event":{"handle":1,"type":1,"data":"<EventData>"},"after":K,"at_ms":T}
// N counts calls in the order they started; handles are the recording's
// own numbers (1, 2, ...), not the platform's; an event's "after" is how
// many calls had completed when it came, and the replay delivers it once as
// many have completed there. Documents are compared as JSON where both
// parse (so key order does not matter; the differing field is named by its
// path), else as text. Process stdio pipes are not recorded: a recorded
// createProcess replays without streams.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/common/json.h"
#include "src/hcs/hcs_api.h"
#include "src/runtime/event_loop.h"

namespace hcsshim::hcs {

class RecordingHcsApi final : public HcsApi {
 public:
  using Sink = std::function<void(const std::string& line)>;
  RecordingHcsApi(HcsApi& inner, runtime::EventLoop& loop, Sink sink);
  ~RecordingHcsApi() override;

  runtime::Task<StatusOr<std::string>> enumerateComputeSystems(std::string query) override;
  runtime::Task<StatusOr<SystemHandle>> createComputeSystem(std::string id, std::string configuration) override;
  runtime::Task<StatusOr<SystemHandle>> openComputeSystem(std::string id) override;
  runtime::Task<Status> startComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> shutDownComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> terminateComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> pauseComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> resumeComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> saveComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<StatusOr<std::string>> getComputeSystemProperties(SystemHandle system, std::string query) override;
  runtime::Task<Status> modifyComputeSystem(SystemHandle system, std::string settings) override;
  Status setComputeSystemCallback(SystemHandle system, EventCallback callback) override;
  void closeComputeSystem(SystemHandle system) override;
  runtime::Task<StatusOr<CreatedProcess>> createProcess(SystemHandle system, std::string parameters) override;
  runtime::Task<StatusOr<ProcessHandle>> openProcess(SystemHandle system, uint32_t pid) override;
  runtime::Task<Status> signalProcess(ProcessHandle process, std::string options) override;
  runtime::Task<Status> terminateProcess(ProcessHandle process) override;
  runtime::Task<StatusOr<std::string>> getProcessProperties(ProcessHandle process) override;
  runtime::Task<Status> modifyProcess(ProcessHandle process, std::string settings) override;
  Status setProcessCallback(ProcessHandle process, EventCallback callback) override;
  void closeProcess(ProcessHandle process) override;

  struct State;

 private:
  std::shared_ptr<State> s_;
};

class ReplayHcsApi final : public HcsApi {
 public:
  // load parses a recording; InvalidArgument "recording line L: ..." for a
  // line that is not one (truncated, not JSON, a field of the wrong type).
  static StatusOr<std::unique_ptr<ReplayHcsApi>> load(runtime::EventLoop& loop, std::string_view recording);
  ~ReplayHcsApi() override;

  // divergence: "" while every call matched; else the first difference.
  std::string divergence() const;
  // remaining: recorded calls not made (yet).
  size_t remaining() const;

  runtime::Task<StatusOr<std::string>> enumerateComputeSystems(std::string query) override;
  runtime::Task<StatusOr<SystemHandle>> createComputeSystem(std::string id, std::string configuration) override;
  runtime::Task<StatusOr<SystemHandle>> openComputeSystem(std::string id) override;
  runtime::Task<Status> startComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> shutDownComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> terminateComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> pauseComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> resumeComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<Status> saveComputeSystem(SystemHandle system, std::string options) override;
  runtime::Task<StatusOr<std::string>> getComputeSystemProperties(SystemHandle system, std::string query) override;
  runtime::Task<Status> modifyComputeSystem(SystemHandle system, std::string settings) override;
  Status setComputeSystemCallback(SystemHandle system, EventCallback callback) override;
  void closeComputeSystem(SystemHandle system) override;
  runtime::Task<StatusOr<CreatedProcess>> createProcess(SystemHandle system, std::string parameters) override;
  runtime::Task<StatusOr<ProcessHandle>> openProcess(SystemHandle system, uint32_t pid) override;
  runtime::Task<Status> signalProcess(ProcessHandle process, std::string options) override;
  runtime::Task<Status> terminateProcess(ProcessHandle process) override;
  runtime::Task<StatusOr<std::string>> getProcessProperties(ProcessHandle process) override;
  runtime::Task<Status> modifyProcess(ProcessHandle process, std::string settings) override;
  Status setProcessCallback(ProcessHandle process, EventCallback callback) override;
  void closeProcess(ProcessHandle process) override;

  struct State;

 private:
  explicit ReplayHcsApi(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

// firstDifference: the path of the first field where `got` differs from
// `want` ("" if equal), e.g. "VirtualMachine.ComputeTopology.Memory.SizeInMB".
std::string firstDifference(const Json& want, const Json& got);

}  // namespace hcsshim::hcs
