// agent_containers.cc: containers - create, start, shutdown, delete, update, stacks.
#include "gcs/agent_internal.h"

namespace hcsshim::gcs {

Result createContainer(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<CreateContainerRequest>(payload));
  const std::string& id = req.containerId;
  if (!validContainerId(id)) return invalidArg("ContainerId: \"" + id + "\" is not a valid container id");
  HCS_ASSIGN_OR_RETURN(auto config, decodeAs<ContainerConfig>(req.containerConfig, "ContainerConfig"));
  if (s.containers.count(id)) {
    return Status::fromHResult(hr::kHcsSystemAlreadyExists, "", id, "container " + id + " already exists");
  }
  Json& spec = config.ociSpecification;
  if (!spec.is_object()) return invalidArg("ContainerConfig.OciSpecification: want an OCI runtime spec object");
  if (!spec.contains("root") || !spec["root"].is_object() || !spec["root"].contains("path") ||
      !spec["root"]["path"].is_string()) {
    return invalidArg("ContainerConfig.OciSpecification.root.path: required");
  }
  HCS_ASSIGN_OR_RETURN(std::string root,
                       s.paths.check(spec["root"]["path"].get<std::string>(), "OciSpecification.root.path"));
  spec["root"]["path"] = root;
  if (!spec.contains("process") || !spec["process"].is_object()) {
    return invalidArg("ContainerConfig.OciSpecification.process: required");
  }
  // Our own cgroup path, so metrics know where to look and nothing lands
  // in a parent's cgroup.
  if (!spec.contains("linux") || !spec["linux"].is_object()) spec["linux"] = Json::object();
  spec["linux"]["cgroupsPath"] = s.options.cgroupParent + "/gcs/" + id;
  // The HCN namespace the host put the container in (hcsshim sends it as
  // windows.network.networkNamespace): join its network namespace, use its DNS.
  const Json* nsid = nullptr;
  if (spec.contains("windows") && spec["windows"].is_object() && spec["windows"].contains("network") &&
      spec["windows"]["network"].is_object() && spec["windows"]["network"].contains("networkNamespace")) {
    nsid = &spec["windows"]["network"]["networkNamespace"];
  }
  if (nsid && (!nsid->is_string() || nsid->get<std::string>().empty())) {
    return invalidArg("ContainerConfig.OciSpecification.windows.network.networkNamespace: want a namespace id");
  }
  if (nsid) {
    if (!s.network) {
      return Status::fromHResult(hr::kNotImpl, "", id, "this guest has no network support (networkNamespace requested)");
    }
    std::string ns = nsid->get<std::string>();
    HCS_ASSIGN_OR_RETURN(std::string path, s.network->namespacePath(ns));
    Json& namespaces = spec["linux"]["namespaces"];
    if (!namespaces.is_array()) namespaces = Json::array();
    bool found = false;
    for (auto& n : namespaces) {
      if (n.is_object() && n.contains("type") && n["type"] == "network") {
        n["path"] = path;
        found = true;
      }
    }
    if (!found) namespaces.push_back(Json{{"type", "network"}, {"path", path}});
    std::string resolv = s.network->resolvConf(ns);
    if (!resolv.empty()) {
      if (!spec["mounts"].is_array()) spec["mounts"] = Json::array();
      spec["mounts"].push_back(Json{{"destination", "/etc/resolv.conf"}, {"type", "bind"}, {"source", resolv},
                                    {"options", Json::array({"rbind", "ro"})}});
    }
  }
  auto c = std::make_shared<Container>();
  c->id = id;
  c->bundle = s.options.stateDir + "/c/" + id;
  std::error_code ec;
  fs::create_directories(c->bundle, ec);
  if (ec) return Status::fromHResult(hr::kFail, "", id, "creating " + c->bundle + ": " + ec.message());
  c->spec = spec;
  std::ofstream(c->bundle + "/config.json") << jsonText(spec);
  s.containers[id] = c;
  HLOG(Info, "gcs.container.created").kv("container", id).kv("root", root);
  return Json::object();
}

Result startContainer(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  HCS_ASSIGN_OR_RETURN(auto c, findContainer(s, req.containerId));
  c->started = true;
  return Json::object();
}

Result shutdownContainer(State& s, const std::string& payload, bool forced) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  if (req.containerId == kUvmContainerId) {
    // The utility VM itself: the agent stops (after this response) and takes
    // every container down with it; as PID 1 it then powers the VM off.
    s.shutdownRequested = true;
    return Json::object();
  }
  HCS_ASSIGN_OR_RETURN(auto c, findContainer(s, req.containerId));
  if (c->exitCode) return Json::object();  // already down
  c->exitType = forced ? "ForcedExit" : "GracefulExit";
  if (!c->init) {
    // Never ran: it is down now.
    c->exitCode = 0;
    ContainerNotification n;
    n.containerId = c->id;
    n.activityId = req.activityId;
    n.type = c->exitType;
    n.operation = "None";
    s.notify(n);
    return Json::object();
  }
  HCS_RETURN_IF_ERROR(c->init->p->signal(forced ? SIGKILL : SIGTERM));
  return Json::object();
}

Task<Status> removeContainer(StateP s, std::shared_ptr<Container> c) {
  Status st = co_await removeRuntimeState(s, c);
  for (auto it = s->overlays.begin(); it != s->overlays.end();) {
    if (it->second == c->id && s->mounter.unmount(it->first).ok()) {
      it = s->overlays.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = s->procs.begin(); it != s->procs.end();) {
    it = it->second->containerId == c->id ? s->procs.erase(it) : std::next(it);
  }
  std::error_code ec;
  fs::remove_all(c->bundle, ec);
  s->containers.erase(c->id);
  HLOG(Info, "gcs.container.deleted").kv("container", c->id);
  co_return st;
}

Task<Result> deleteContainerState(StateP s, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  HCS_CO_ASSIGN_OR_RETURN(auto c, findContainer(*s, req.containerId));
  if (c->init && !c->init->exit) {
    co_return Status::fromHResult(hr::kHcsInvalidState, "", c->id, "container " + c->id + " is still running");
  }
  HCS_CO_RETURN_IF_ERROR(co_await removeContainer(s, c));
  co_return Json::object();
}

Task<Result> updateContainer(StateP s, std::string payload) {
  HCS_CO_ASSIGN_OR_RETURN(auto req, decodeAs<RequestBase>(payload));
  HCS_CO_ASSIGN_OR_RETURN(auto c, findContainer(*s, req.containerId));
  auto doc = parseJson(payload);
  if (!doc.ok() || !(*doc)["Resources"].is_object()) co_return invalidArg("Resources: want an OCI LinuxResources object");
  if (!c->init || c->exitCode) {
    co_return Status::fromHResult(hr::kHcsInvalidState, "", c->id, "container " + c->id + " is not running");
  }
  Status st = co_await s->runtimes.update(c->id, (*doc)["Resources"]);
  if (!st.ok()) co_return Status::fromHResult(hr::kFail, "", c->id, st.message());
  co_return Json::object();
}

Result dumpStacks(State& s) {
  std::ostringstream out;
  out << "gcs: " << s.containers.size() << " containers, " << s.procs.size() << " processes, "
      << s.overlays.size() << " layer mounts, " << s.mounts.size() << " other mounts\n";
  for (auto& [id, c] : s.containers) {
    out << "container " << id << " started=" << c->started << " init=" << (c->init ? c->init->pid : 0)
        << " exit=" << (c->exitCode ? std::to_string(*c->exitCode) : "-") << "\n";
  }
  for (auto& [pid, p] : s.procs) {
    out << "process " << pid << " container=" << p->containerId
        << " exit=" << (p->exit ? std::to_string(p->exit->exitCode) : "-") << "\n";
  }
  return field("GuestStacks", out.str());
}

}  // namespace hcsshim::gcs
