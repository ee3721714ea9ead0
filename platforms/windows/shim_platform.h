// shim_platform.h: the shim's platform on Windows (containerd-shim-runhcs-v1.exe).
//
//   vsock      the utility VM's Hyper-V sockets (src/bridge/hvsock_host.h:
//              listeners on the VM's RuntimeId and the port's service GUID)
//   HNS        computenetwork.dll (computenetwork_hns.h)
//   stdio      named pipes containerd created: the shim connects to each
//              (\\.\pipe\NAME or npipe:////./pipe/NAME); "" is no stream.
//              binary:// loggers and file:// are Unimplemented here (named).
//   rootfs     nothing is mounted on the host: the overlay of layers
//              containerd's Linux snapshotters describe reaches the VM as
//              shares; any other mount list is Unimplemented (named).
//   layers     none (layers reach the VM as Plan9 shares).
//
//   platforms::windows::WindowsShimPlatform platform(*rt);
//   shim::TaskModel model(*rt, hcs, events, platform, config);
#pragma once

#include <memory>
#include <string>

#include "src/runtime/runtime.h"
#include "src/shim/platform.h"

namespace hcsshim::platforms::windows {

// PipeStdio: containerd's stdio on Windows, named pipes the shim dials.
class PipeStdio final : public shim::StdioEndpoints {
 public:
  explicit PipeStdio(runtime::Transport& transport) : transport_(transport) {}
  Status checkOutputUris(const std::string& stdoutUri, const std::string& stderrUri) override;
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openOutput(std::string uri) override;
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> openInput(std::string uri) override;
  runtime::Task<StatusOr<shim::LoggerStreams>> startBinaryLogger(shim::BinaryLoggerOptions options) override;

 private:
  runtime::Task<StatusOr<std::unique_ptr<runtime::Stream>>> open(std::string uri);
  runtime::Transport& transport_;
};

// HostMountsUnimplemented: the RootfsMounter of a host that mounts nothing.
class HostMountsUnimplemented final : public shim::RootfsMounter {
 public:
  Status mount(const shim::Mounts& mounts, const std::string& target) override;
  void unmount(const std::string&) override {}
};

class WindowsShimPlatform final : public shim::ShimPlatform {
 public:
  explicit WindowsShimPlatform(runtime::Runtime& rt) : rt_(rt), stdio_(rt.transport()) {}
  std::unique_ptr<bridge::VsockHost> vsockFor(const std::string& vmId) override;
  runtime::Task<StatusOr<std::unique_ptr<hns::HnsApi>>> connectHns() override;
  shim::StdioEndpoints& stdio() override { return stdio_; }
  shim::RootfsMounter& rootfs() override { return rootfs_; }

 private:
  runtime::Runtime& rt_;
  PipeStdio stdio_;
  HostMountsUnimplemented rootfs_;
};

}  // namespace hcsshim::platforms::windows
