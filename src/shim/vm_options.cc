#include "src/shim/vm_options.h"

#include "src/containerd/api/runhcs_options.pb.h"

namespace hcsshim::shim {

std::string vmIdFor(const std::string& taskId) { return "runhcs-" + taskId; }

StatusOr<uvm::LcowOptions> vmOptions(const std::string& taskId, const hcsshim::protobuf::Any& any, const Json& spec,
                                     const std::string& defaultBootFiles) {
  uvm::LcowOptions o;
  o.id = vmIdFor(taskId);
  o.bootFilesPath = defaultBootFiles;
  o.memoryMB = 512;
  o.processors = 1;
  if (!any.type_url().empty()) {
    if (any.type_url().find("containerd.runhcs.v1.Options") == std::string::npos) {
      return InvalidArgumentError("runtime options: want containerd.runhcs.v1.Options, got " + any.type_url());
    }
    containerd::runhcs::v1::Options opts;
    if (!opts.ParseFromString(any.value())) {
      return InvalidArgumentError("runtime options: containerd.runhcs.v1.Options does not decode");
    }
    if (opts.vm_memory_size_in_mb() < 0 || opts.vm_processor_count() < 0) {
      return InvalidArgumentError("runtime options: negative VM memory or processor count");
    }
    if (opts.vm_memory_size_in_mb() > 0) o.memoryMB = static_cast<uint64_t>(opts.vm_memory_size_in_mb());
    if (opts.vm_processor_count() > 0) o.processors = static_cast<uint32_t>(opts.vm_processor_count());
    if (!opts.boot_files_root_path().empty()) o.bootFilesPath = opts.boot_files_root_path();
  }
  // Annotations win over options (as in hcsshim).
  const Json annotations = spec.is_object() ? spec.value("annotations", Json::object()) : Json::object();
  if (!annotations.is_object()) return InvalidArgumentError("spec annotations: want an object");
  auto number = [&](const char* key, uint64_t& out) -> Status {
    if (!annotations.contains(key)) return OkStatus();
    if (!annotations[key].is_string()) return InvalidArgumentError(std::string("annotation ") + key + ": want a string");
    const std::string v = annotations[key].get<std::string>();
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9) {
      return InvalidArgumentError(std::string("annotation ") + key + ": \"" + v + "\" is not a number");
    }
    out = std::stoull(v);
    return OkStatus();
  };
  uint64_t mem = o.memoryMB, cpus = o.processors;
  HCS_RETURN_IF_ERROR(number("io.microsoft.virtualmachine.computetopology.memory.sizeinmb", mem));
  HCS_RETURN_IF_ERROR(number("io.microsoft.virtualmachine.computetopology.processor.count", cpus));
  o.memoryMB = mem;
  o.processors = static_cast<uint32_t>(cpus);
  const char* kBoot = "io.microsoft.virtualmachine.lcow.bootfilesrootpath";
  if (annotations.contains(kBoot)) {
    if (!annotations[kBoot].is_string() || annotations[kBoot].get<std::string>().empty()) {
      return InvalidArgumentError(std::string("annotation ") + kBoot + ": want a directory");
    }
    o.bootFilesPath = annotations[kBoot].get<std::string>();
  }
  if (o.bootFilesPath.empty()) {
    return FailedPreconditionError("no boot files: set the runtime option BootFilesRootPath or the annotation " +
                                   std::string(kBoot));
  }
  return o;
}

std::string sandboxOf(const Json& spec) {
  if (!spec.is_object() || !spec.contains("annotations") || !spec["annotations"].is_object()) return "";
  const Json& a = spec["annotations"];
  if (a.value("io.kubernetes.cri.container-type", Json("")) != Json("container")) return "";
  if (!a.contains("io.kubernetes.cri.sandbox-id") || !a["io.kubernetes.cri.sandbox-id"].is_string()) return "";
  return a["io.kubernetes.cri.sandbox-id"].get<std::string>();
}

StatusOr<std::string> networkNamespaceOf(const Json& spec) {
  if (!spec.is_object() || !spec.contains("windows") || !spec["windows"].is_object()) return std::string();
  const Json& w = spec["windows"];
  if (!w.contains("network") || !w["network"].is_object() || !w["network"].contains("networkNamespace")) {
    return std::string();
  }
  const Json& ns = w["network"]["networkNamespace"];
  if (!ns.is_string() || ns.get<std::string>().empty()) {
    return InvalidArgumentError("spec windows.network.networkNamespace: want an HCN namespace id");
  }
  return ns.get<std::string>();
}

}  // namespace hcsshim::shim
