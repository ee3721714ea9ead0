// vm_options.h: a task's utility VM settings from containerd's runtime
// options (containerd.runhcs.v1.Options in the CreateTaskRequest) and the
// spec's annotations, which win, as in hcsshim:
//   io.microsoft.virtualmachine.computetopology.memory.sizeinmb
//   io.microsoft.virtualmachine.computetopology.processor.count
//   io.microsoft.virtualmachine.lcow.bootfilesrootpath
// Boot files: the options' boot_files_root_path, else the annotation, else
// the platform's default (ShimConfig.defaultBootFiles).
#pragma once

#include <string>

#include "src/common/json.h"
#include "src/containerd/api/runhcs_options.pb.h"
#include "src/protobuf/wkt.pb.h"
#include "src/uvm/uvm.h"

namespace hcsshim::shim {

// vmIdFor: the utility VM a task runs in (also used by `delete` to clean up).
std::string vmIdFor(const std::string& taskId);

// parseRunhcsOptionsFile: containerd.runhcs.v1.Options from the file a
// runtimeoptions.v1.Options' ConfigPath names (what containerd's CRI sends
// when it has no runhcs options type compiled in, as Debian's). The file is
// the handler's options as TOML `key = value` lines - the keys hcsshim's
// docs use in containerd's config (BootFilesRootPath, VmMemorySizeInMb,
// SandboxIsolation...; case and underscores ignored), values strings,
// integers or booleans, # comments. An unknown key, a value of the wrong
// type or a table is InvalidArgument naming the line.
StatusOr<containerd::runhcs::v1::Options> parseRunhcsOptionsFile(std::string_view text, const std::string& path);

// vmOptions: InvalidArgument naming the option or annotation at fault.
StatusOr<uvm::LcowOptions> vmOptions(const std::string& taskId, const hcsshim::protobuf::Any& runtimeOptions,
                                     const Json& spec, const std::string& defaultBootFiles);

// sandboxOf: the pod sandbox a container of a pod belongs to (CRI's
// annotations io.kubernetes.cri.container-type = container and
// io.kubernetes.cri.sandbox-id), or "" for a sandbox or standalone task.
std::string sandboxOf(const Json& spec);

// networkNamespaceOf: the HCN namespace the spec names, "" if none:
// windows.network.networkNamespace (as containerd's CRI on Windows sets it),
// or the Linux network namespace path in linux.namespaces (as containerd's
// CRI on Linux sets it: /var/run/netns/cni-...), which means nothing inside
// a utility VM and stands for the HCN namespace hns::namespaceForNetns(path)
// (the runhcs CNI plugin's ADD made it). InvalidArgument if the field is
// malformed or the two disagree.
StatusOr<std::string> networkNamespaceOf(const Json& spec);

// guestNamespaces: the spec's linux.namespaces as the guest gets them - a
// network namespace's host path removed (the guest joins the HCN
// namespace's own, networkNamespaceOf), /proc/<pid>/ns/<type> paths kept
// (the pod's processes in the guest: the pids the shim reports are the
// guest's); any other path is a host path the guest cannot have -
// InvalidArgument naming it, never passed through.
Status guestNamespaces(Json& spec);

}  // namespace hcsshim::shim
