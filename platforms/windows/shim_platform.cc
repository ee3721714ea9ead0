#include "platforms/windows/shim_platform.h"

#include "platforms/windows/computenetwork_hns.h"
#include "platforms/windows/named_pipe.h"
#include "src/bridge/hvsock_host.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

namespace {

// checkUri: "" or a named pipe; what else containerd may send is named.
Status checkUri(const std::string& what, const std::string& uri) {
  if (uri.empty()) return OkStatus();
  if (isPipeAddress(uri)) return pipePath(uri).status();
  if (shim::isBinaryUri(uri)) {
    return UnimplementedError(what + " " + uri + ": binary:// loggers are not implemented on Windows (use a named pipe)");
  }
  if (uri.rfind("file://", 0) == 0) {
    return UnimplementedError(what + " " + uri + ": file:// stdio is not implemented on Windows (use a named pipe)");
  }
  return InvalidArgumentError(what + " " + uri.substr(0, 200) + ": not a named pipe (want \\\\.\\pipe\\NAME)");
}

}  // namespace

Status PipeStdio::checkOutputUris(const std::string& stdoutUri, const std::string& stderrUri) {
  HCS_RETURN_IF_ERROR(checkUri("stdout", stdoutUri));
  return checkUri("stderr", stderrUri);
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> PipeStdio::open(std::string uri) {
  if (uri.empty()) co_return std::unique_ptr<runtime::Stream>();
  HCS_CO_RETURN_IF_ERROR(checkUri("stdio", uri));
  auto connect_call = transport_.connect(uri);
  co_return co_await std::move(connect_call);
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> PipeStdio::openOutput(std::string uri) {
  return open(std::move(uri));
}

Task<StatusOr<std::unique_ptr<runtime::Stream>>> PipeStdio::openInput(std::string uri) {
  return open(std::move(uri));
}

Task<StatusOr<shim::LoggerStreams>> PipeStdio::startBinaryLogger(shim::BinaryLoggerOptions options) {
  co_return UnimplementedError(options.uri + ": binary:// loggers are not implemented on Windows (use a named pipe)");
}

Status HostMountsUnimplemented::mount(const shim::Mounts& mounts, const std::string& target) {
  std::string types;
  for (const auto& m : mounts) types += (types.empty() ? "" : ",") + m.type();
  return UnimplementedError("mounting containerd's rootfs mounts (" + types + ") at " + target +
                            " on the Windows host is not implemented: give the task containerd's overlay of layers");
}

std::unique_ptr<bridge::VsockHost> WindowsShimPlatform::vsockFor(const std::string&) {
  return std::make_unique<bridge::HvSockHost>(rt_.transport());
}

Task<StatusOr<std::unique_ptr<hns::HnsApi>>> WindowsShimPlatform::connectHns() {
  co_return std::unique_ptr<hns::HnsApi>(std::make_unique<ComputeNetworkHns>(rt_.loop()));
}

}  // namespace hcsshim::platforms::windows
