// client.h: a CRI v1 client (runtime.v1 RuntimeService and ImageService) -
// what the kubelet is to containerd's CRI plugin - over gRPC on a unix
// socket. Blocking calls with a deadline; the answer is the gRPC status the
// server gave (the suite compares those between runtime handlers).
//
//   auto cri = CriClient::connect("/run/ctd/c.sock");
//   runtime::v1::VersionResponse v;
//   grpc::Status st = cri->call("RuntimeService", "Version", runtime::v1::VersionRequest(), &v);
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "cri_conformance/api/cri.pb.h"

namespace hcsshim::cri {

namespace v1 = ::runtime::v1;

class CriClient {
 public:
  // connect makes a channel to a unix socket (no I/O until the first call).
  explicit CriClient(const std::string& socketPath);

  // call invokes /runtime.v1.<service>/<method>.
  grpc::Status call(const std::string& service, const std::string& method, const google::protobuf::MessageLite& req,
                    google::protobuf::MessageLite* resp, std::chrono::seconds deadline = std::chrono::seconds(120));

  // The calls the suite makes, typed.
  grpc::Status version(v1::VersionResponse* r);
  grpc::Status status(v1::StatusResponse* r);
  grpc::Status runPodSandbox(const v1::PodSandboxConfig& config, const std::string& handler, std::string* id);
  grpc::Status stopPodSandbox(const std::string& id);
  grpc::Status removePodSandbox(const std::string& id);
  grpc::Status podSandboxStatus(const std::string& id, v1::PodSandboxStatusResponse* r);
  grpc::Status listPodSandbox(const v1::PodSandboxFilter& filter, v1::ListPodSandboxResponse* r);
  grpc::Status createContainer(const std::string& pod, const v1::ContainerConfig& config,
                               const v1::PodSandboxConfig& sandbox, std::string* id);
  grpc::Status startContainer(const std::string& id);
  grpc::Status stopContainer(const std::string& id, int64_t timeoutSeconds);
  grpc::Status removeContainer(const std::string& id);
  grpc::Status listContainers(const v1::ContainerFilter& filter, v1::ListContainersResponse* r);
  grpc::Status containerStatus(const std::string& id, v1::ContainerStatusResponse* r);
  grpc::Status execSync(const std::string& id, const std::vector<std::string>& cmd, int64_t timeoutSeconds,
                        v1::ExecSyncResponse* r);
  // The streaming calls: the URL of the streaming server's session.
  grpc::Status exec(const v1::ExecRequest& req, std::string* url);
  grpc::Status attach(const v1::AttachRequest& req, std::string* url);
  grpc::Status portForward(const std::string& pod, int32_t port, std::string* url);
  grpc::Status reopenContainerLog(const std::string& id);
  grpc::Status containerStats(const std::string& id, v1::ContainerStatsResponse* r);
  grpc::Status listContainerStats(const v1::ContainerStatsFilter& filter, v1::ListContainerStatsResponse* r);
  grpc::Status pullImage(const std::string& image, std::string* ref);
  grpc::Status imageStatus(const std::string& image, v1::ImageStatusResponse* r);
  grpc::Status listImages(v1::ListImagesResponse* r);
  grpc::Status removeImage(const std::string& image);

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

// describe: "CODE: message" for a report line.
std::string describe(const grpc::Status& st);

}  // namespace hcsshim::cri
