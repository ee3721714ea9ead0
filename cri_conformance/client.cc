#include "cri_conformance/client.h"

#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>

namespace hcsshim::cri {

CriClient::CriClient(const std::string& socketPath)
    : channel_(grpc::CreateChannel("unix://" + socketPath, grpc::InsecureChannelCredentials())) {}

grpc::Status CriClient::call(const std::string& service, const std::string& method,
                             const google::protobuf::MessageLite& req, google::protobuf::MessageLite* resp,
                             std::chrono::seconds deadline) {
  const std::string name = "/runtime.v1." + service + "/" + method;
  grpc::internal::RpcMethod rpc(name.c_str(), grpc::internal::RpcMethod::NORMAL_RPC, channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  return grpc::internal::BlockingUnaryCall<google::protobuf::MessageLite, google::protobuf::MessageLite>(
      channel_.get(), rpc, &ctx, req, resp);
}

grpc::Status CriClient::version(v1::VersionResponse* r) {
  v1::VersionRequest req;
  req.set_version("v1");
  return call("RuntimeService", "Version", req, r);
}

grpc::Status CriClient::status(v1::StatusResponse* r) {
  return call("RuntimeService", "Status", v1::StatusRequest(), r);
}

grpc::Status CriClient::runPodSandbox(const v1::PodSandboxConfig& config, const std::string& handler,
                                      std::string* id) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  req.set_runtime_handler(handler);
  v1::RunPodSandboxResponse r;
  grpc::Status st = call("RuntimeService", "RunPodSandbox", req, &r, std::chrono::seconds(240));
  if (st.ok()) *id = r.pod_sandbox_id();
  return st;
}

grpc::Status CriClient::stopPodSandbox(const std::string& id) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::StopPodSandboxResponse r;
  return call("RuntimeService", "StopPodSandbox", req, &r);
}

grpc::Status CriClient::removePodSandbox(const std::string& id) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  v1::RemovePodSandboxResponse r;
  return call("RuntimeService", "RemovePodSandbox", req, &r);
}

grpc::Status CriClient::podSandboxStatus(const std::string& id, v1::PodSandboxStatusResponse* r) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  return call("RuntimeService", "PodSandboxStatus", req, r);
}

grpc::Status CriClient::listPodSandbox(const v1::PodSandboxFilter& filter, v1::ListPodSandboxResponse* r) {
  v1::ListPodSandboxRequest req;
  *req.mutable_filter() = filter;
  return call("RuntimeService", "ListPodSandbox", req, r);
}

grpc::Status CriClient::createContainer(const std::string& pod, const v1::ContainerConfig& config,
                                        const v1::PodSandboxConfig& sandbox, std::string* id) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod);
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = sandbox;
  v1::CreateContainerResponse r;
  grpc::Status st = call("RuntimeService", "CreateContainer", req, &r, std::chrono::seconds(240));
  if (st.ok()) *id = r.container_id();
  return st;
}

grpc::Status CriClient::startContainer(const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  v1::StartContainerResponse r;
  return call("RuntimeService", "StartContainer", req, &r);
}

grpc::Status CriClient::stopContainer(const std::string& id, int64_t timeoutSeconds) {
  v1::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(timeoutSeconds);
  v1::StopContainerResponse r;
  return call("RuntimeService", "StopContainer", req, &r);
}

grpc::Status CriClient::removeContainer(const std::string& id) {
  v1::RemoveContainerRequest req;
  req.set_container_id(id);
  v1::RemoveContainerResponse r;
  return call("RuntimeService", "RemoveContainer", req, &r);
}

grpc::Status CriClient::listContainers(const v1::ContainerFilter& filter, v1::ListContainersResponse* r) {
  v1::ListContainersRequest req;
  *req.mutable_filter() = filter;
  return call("RuntimeService", "ListContainers", req, r);
}

grpc::Status CriClient::containerStatus(const std::string& id, v1::ContainerStatusResponse* r) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  return call("RuntimeService", "ContainerStatus", req, r);
}

grpc::Status CriClient::execSync(const std::string& id, const std::vector<std::string>& cmd, int64_t timeoutSeconds,
                                 v1::ExecSyncResponse* r) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const auto& a : cmd) req.add_cmd(a);
  req.set_timeout(timeoutSeconds);
  return call("RuntimeService", "ExecSync", req, r);
}

grpc::Status CriClient::exec(const v1::ExecRequest& req, std::string* url) {
  v1::ExecResponse r;
  grpc::Status st = call("RuntimeService", "Exec", req, &r);
  if (st.ok()) *url = r.url();
  return st;
}

grpc::Status CriClient::attach(const v1::AttachRequest& req, std::string* url) {
  v1::AttachResponse r;
  grpc::Status st = call("RuntimeService", "Attach", req, &r);
  if (st.ok()) *url = r.url();
  return st;
}

grpc::Status CriClient::portForward(const std::string& pod, int32_t port, std::string* url) {
  v1::PortForwardRequest req;
  req.set_pod_sandbox_id(pod);
  req.add_port(port);
  v1::PortForwardResponse r;
  grpc::Status st = call("RuntimeService", "PortForward", req, &r);
  if (st.ok()) *url = r.url();
  return st;
}

grpc::Status CriClient::reopenContainerLog(const std::string& id) {
  v1::ReopenContainerLogRequest req;
  req.set_container_id(id);
  v1::ReopenContainerLogResponse r;
  return call("RuntimeService", "ReopenContainerLog", req, &r);
}

grpc::Status CriClient::containerStats(const std::string& id, v1::ContainerStatsResponse* r) {
  v1::ContainerStatsRequest req;
  req.set_container_id(id);
  return call("RuntimeService", "ContainerStats", req, r);
}

grpc::Status CriClient::listContainerStats(const v1::ContainerStatsFilter& filter, v1::ListContainerStatsResponse* r) {
  v1::ListContainerStatsRequest req;
  *req.mutable_filter() = filter;
  return call("RuntimeService", "ListContainerStats", req, r);
}

grpc::Status CriClient::pullImage(const std::string& image, std::string* ref) {
  v1::PullImageRequest req;
  req.mutable_image()->set_image(image);
  v1::PullImageResponse r;
  grpc::Status st = call("ImageService", "PullImage", req, &r);
  if (st.ok()) *ref = r.image_ref();
  return st;
}

grpc::Status CriClient::imageStatus(const std::string& image, v1::ImageStatusResponse* r) {
  v1::ImageStatusRequest req;
  req.mutable_image()->set_image(image);
  return call("ImageService", "ImageStatus", req, r);
}

grpc::Status CriClient::listImages(v1::ListImagesResponse* r) {
  return call("ImageService", "ListImages", v1::ListImagesRequest(), r);
}

grpc::Status CriClient::removeImage(const std::string& image) {
  v1::RemoveImageRequest req;
  req.mutable_image()->set_image(image);
  v1::RemoveImageResponse r;
  return call("ImageService", "RemoveImage", req, &r);
}

std::string describe(const grpc::Status& st) {
  static const char* names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                                "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                "UNAUTHENTICATED"};
  int c = static_cast<int>(st.error_code());
  std::string name = c >= 0 && c <= 16 ? names[c] : std::to_string(c);
  return st.ok() ? name : name + ": " + st.error_message();
}

}  // namespace hcsshim::cri
