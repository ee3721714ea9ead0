// service_modify.cc: compute system documents (Create) and Modify - validation and what each resource path does.
#include "hcs_fake/service_internal.h"

namespace hcsshim::hcs_fake {

Status FakeHcsService::validate(const schema::ComputeSystem& doc, const std::string& id) const {
  const char* op = "CreateComputeSystem";
  if (doc.schemaVersion && doc.schemaVersion->major.value_or(0) != 2) {
    return hcsError(hr::kHcsInvalidJson, op, id, "SchemaVersion.Major: only schema 2 is supported");
  }
  if (doc.container.has_value() == doc.virtualMachine.has_value()) {
    return hcsError(hr::kHcsInvalidJson, op, id, "exactly one of Container or VirtualMachine is required");
  }
  if (doc.hostingSystemId) {
    auto host = find(*doc.hostingSystemId);
    if (!host.ok()) return hcsError(hr::kHcsSystemNotFound, op, id, "HostingSystemId " + *doc.hostingSystemId + " does not exist");
    if ((*host)->systemType != "VirtualMachine" || (*host)->state != SystemState::kRunning) {
      return hcsError(hr::kHcsInvalidState, op, id, "hosting system " + *doc.hostingSystemId + " is not a running VM");
    }
  }
  if (doc.virtualMachine) {
    const auto& vm = *doc.virtualMachine;
    if (!vm.computeTopology || !vm.computeTopology->memory || !vm.computeTopology->memory->sizeInMB) {
      return hcsError(hr::kHcsInvalidJson, op, id, "VirtualMachine.ComputeTopology.Memory.SizeInMB is required");
    }
    uint64_t mb = *vm.computeTopology->memory->sizeInMB;
    if (mb < 64 || mb > 1024 * 1024) {
      return hcsError(hr::kInvalidArg, op, id,
                      "VirtualMachine.ComputeTopology.Memory.SizeInMB: " + std::to_string(mb) + " is outside 64..1048576");
    }
    if (vm.computeTopology->processor && vm.computeTopology->processor->count) {
      uint32_t n = *vm.computeTopology->processor->count;
      if (n < 1 || n > 1024) {
        return hcsError(hr::kInvalidArg, op, id,
                        "VirtualMachine.ComputeTopology.Processor.Count: " + std::to_string(n) + " is outside 1..1024");
      }
    }
    if (!vm.chipset || (!vm.chipset->linuxKernelDirect && !vm.chipset->uefi)) {
      return hcsError(hr::kHcsInvalidJson, op, id, "VirtualMachine.Chipset needs LinuxKernelDirect or Uefi");
    }
    if (const auto& lkd = vm.chipset->linuxKernelDirect) {
      if (!lkd->kernelFilePath || !fileExists(*lkd->kernelFilePath)) {
        return hcsError(hr::kFileNotFound, op, id,
                        "VirtualMachine.Chipset.LinuxKernelDirect.KernelFilePath: " + lkd->kernelFilePath.value_or("") +
                            " not found");
      }
      if (lkd->initRdPath && !fileExists(*lkd->initRdPath)) {
        return hcsError(hr::kFileNotFound, op, id,
                        "VirtualMachine.Chipset.LinuxKernelDirect.InitRdPath: " + *lkd->initRdPath + " not found");
      }
    }
    if (vm.devices) {
      for (const auto& [controller, scsi] : vm.devices->scsi) {
        for (const auto& [lun, a] : scsi.attachments) {
          std::string where = "VirtualMachine.Devices.Scsi." + controller + ".Attachments." + lun;
          if (!parseIndex(lun, 64)) return hcsError(hr::kInvalidArg, op, id, where + ": LUN must be 0..63");
          if (a.type.value_or("VirtualDisk") == "VirtualDisk" && !fileExists(a.path.value_or(""))) {
            return hcsError(hr::kFileNotFound, op, id, where + ".Path: " + a.path.value_or("") + " not found");
          }
        }
      }
    }
  }
  if (doc.container) {
    for (size_t i = 0; i < doc.container->mappedDirectories.size(); ++i) {
      const auto& md = doc.container->mappedDirectories[i];
      if (!fileExists(md.hostPath.value_or(""))) {
        return hcsError(hr::kFileNotFound, op, id,
                        "Container.MappedDirectories[" + std::to_string(i) + "].HostPath: " + md.hostPath.value_or("") +
                            " not found");
      }
    }
  }
  return OkStatus();
}

Task<StatusOr<std::shared_ptr<SystemRecord>>> FakeHcsService::create(std::string id, std::string configuration) {
  const char* op = "CreateComputeSystem";
  if (id.empty()) co_return hcsError(hr::kInvalidArg, op, id, "the compute system id is empty");
  if (id.size() > 256) co_return hcsError(hr::kInvalidArg, op, validUtf8(id.substr(0, 64)), "the compute system id is too long");
  if (validUtf8(id) != id || std::any_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    co_return hcsError(hr::kInvalidArg, op, validUtf8(id), "the compute system id must be printable UTF-8");
  }
  auto doc = schema::decode<schema::ComputeSystem>(std::string_view(configuration));
  if (!doc.ok()) co_return invalidJson(doc.status(), op, id);
  if (systems_.count(id)) co_return hcsError(hr::kHcsSystemAlreadyExists, op, id, "a compute system with this id exists");
  HCS_CO_RETURN_IF_ERROR(validate(*doc, id));
  auto s = std::make_shared<SystemRecord>();
  s->id = id;
  s->doc = std::move(*doc);
  s->systemType = s->doc.virtualMachine ? "VirtualMachine" : "Container";
  s->runtimeId = Guid::fromRandom(rt_.random().next(), rt_.random().next()).toString();
  s->terminateOnLastHandleClosed = s->doc.shouldTerminateOnLastHandleClosed.value_or(false);
  s->busy = true;
  systems_[id] = s;  // reserve the id while the creation is pending
  co_await settle();
  s->busy = false;
  HLOG(Info, "hcs_fake.system.created").kv("id", id).kv("type", s->systemType).kv("owner", s->doc.owner.value_or(""));
  co_return s;
}

StatusOr<std::shared_ptr<SystemRecord>> FakeHcsService::find(const std::string& id) const {
  auto it = systems_.find(id);
  if (it == systems_.end()) return hcsError(hr::kHcsSystemNotFound, "OpenComputeSystem", id, "no compute system with this id");
  return it->second;
}


Status FakeHcsService::applyModify(SystemRecord& s, const schema::ModifySettingRequest& req) {
  const char* op = "Modify";
  const std::string& path = *req.resourcePath;
  const std::string type = req.requestType.value_or("");
  if (type != "Add" && type != "Remove" && type != "Update" && type != "PreAdd") {
    return hcsError(hr::kHcsInvalidJson, op, s.id, "RequestType: want Add, Remove, Update or PreAdd, got \"" + type + "\"");
  }
  auto parts = splitPath(path);
  auto bad = [&](const std::string& why) { return hcsError(hr::kInvalidArg, op, s.id, "ResourcePath " + path + ": " + why); };
  auto needVm = [&]() -> Status {
    if (!s.doc.virtualMachine) return bad("the system is not a virtual machine");
    if (!s.doc.virtualMachine->devices) s.doc.virtualMachine->devices.emplace();
    return OkStatus();
  };
  auto settingsAs = [&]<typename T>(T& out) -> Status {
    auto d = schema::decode<T>(req.settings, "Settings");
    if (!d.ok()) return invalidJson(d.status(), op, s.id);
    out = std::move(*d);
    return OkStatus();
  };
  if (parts.size() == 6 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "Scsi" &&
      parts[4] == "Attachments") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& scsi = s.doc.virtualMachine->devices->scsi;
    auto ctl = scsi.find(parts[3]);
    if (ctl == scsi.end()) return hcsError(hr::kElementNotFound, op, s.id, "SCSI controller " + parts[3] + " does not exist");
    if (!parseIndex(parts[5], 64)) return bad("LUN must be 0..63");
    auto& atts = ctl->second.attachments;
    if (type == "Remove") {
      if (!atts.erase(parts[5])) return hcsError(hr::kElementNotFound, op, s.id, "nothing attached at " + path);
      return OkStatus();
    }
    schema::Attachment a;
    HCS_RETURN_IF_ERROR(settingsAs(a));
    if (!fileExists(a.path.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.Path: " + a.path.value_or("") + " not found");
    if (type == "Add" && atts.count(parts[5])) return hcsError(hr::kAlreadyExists, op, s.id, "LUN " + parts[5] + " is in use");
    atts[parts[5]] = std::move(a);
    return OkStatus();
  }
  if (parts.size() >= 5 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "VirtualPMem" &&
      parts[3] == "Devices") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& vp = s.doc.virtualMachine->devices->virtualPMem;
    if (!vp) return bad("the VM has no VirtualPMem controller");
    uint32_t max = vp->maximumCount.value_or(64);
    if (!parseIndex(parts[4], max)) return bad("device number must be below MaximumCount " + std::to_string(max));
    if (parts.size() == 5) {
      if (type == "Remove") {
        if (!vp->devices.erase(parts[4])) return hcsError(hr::kElementNotFound, op, s.id, "no VPMem device " + parts[4]);
        return OkStatus();
      }
      schema::VirtualPMemDevice d;
      HCS_RETURN_IF_ERROR(settingsAs(d));
      if (!fileExists(d.hostPath.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.HostPath: " + d.hostPath.value_or("") + " not found");
      if (type == "Add" && vp->devices.count(parts[4])) return hcsError(hr::kAlreadyExists, op, s.id, "VPMem device " + parts[4] + " is in use");
      vp->devices[parts[4]] = std::move(d);
      return OkStatus();
    }
    if (parts.size() == 7 && parts[5] == "Mappings") {
      auto dev = vp->devices.find(parts[4]);
      if (dev == vp->devices.end()) return hcsError(hr::kElementNotFound, op, s.id, "no VPMem device " + parts[4]);
      if (!parseIndex(parts[6], 1u << 20)) return bad("bad mapping index");
      if (type == "Remove") {
        if (!dev->second.mappings.erase(parts[6])) return hcsError(hr::kElementNotFound, op, s.id, "no mapping " + parts[6]);
        return OkStatus();
      }
      schema::VirtualPMemMapping m;
      HCS_RETURN_IF_ERROR(settingsAs(m));
      dev->second.mappings[parts[6]] = std::move(m);
      return OkStatus();
    }
    return bad("unknown VirtualPMem resource");
  }
  if (parts.size() == 4 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "NetworkAdapters") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& nics = s.doc.virtualMachine->devices->networkAdapters;
    if (type == "Remove") {
      if (!nics.erase(parts[3])) return hcsError(hr::kElementNotFound, op, s.id, "no network adapter " + parts[3]);
      return OkStatus();
    }
    schema::NetworkAdapter n;
    HCS_RETURN_IF_ERROR(settingsAs(n));
    if (!n.endpointId) return hcsError(hr::kHcsInvalidJson, op, s.id, "Settings.EndpointId is required");
    if (type == "Add" && nics.count(parts[3])) return hcsError(hr::kAlreadyExists, op, s.id, "network adapter " + parts[3] + " exists");
    nics[parts[3]] = std::move(n);
    return OkStatus();
  }
  if (path == "VirtualMachine/Devices/Plan9/Shares") {
    HCS_RETURN_IF_ERROR(needVm());
    auto& p9 = s.doc.virtualMachine->devices->plan9;
    if (!p9) p9.emplace();
    schema::Plan9Share share;
    HCS_RETURN_IF_ERROR(settingsAs(share));
    if (!share.name || share.name->empty()) return hcsError(hr::kHcsInvalidJson, op, s.id, "Settings.Name is required");
    auto it = std::find_if(p9->shares.begin(), p9->shares.end(), [&](const auto& x) { return x.name == share.name; });
    if (type == "Remove") {
      if (it == p9->shares.end()) return hcsError(hr::kElementNotFound, op, s.id, "no Plan9 share " + *share.name);
      p9->shares.erase(it);
      return OkStatus();
    }
    if (!fileExists(share.path.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.Path: " + share.path.value_or("") + " not found");
    if (it != p9->shares.end()) return hcsError(hr::kAlreadyExists, op, s.id, "Plan9 share " + *share.name + " exists");
    p9->shares.push_back(std::move(share));
    return OkStatus();
  }
  if (parts.size() == 6 && parts[0] == "VirtualMachine" && parts[1] == "Devices" && parts[2] == "HvSocket" &&
      parts[3] == "HvSocketConfig" && parts[4] == "ServiceTable") {
    HCS_RETURN_IF_ERROR(needVm());
    if (!Guid::parse(parts[5]).ok()) return bad("service id is not a GUID");
    auto& hv = s.doc.virtualMachine->devices->hvSocket;
    if (!hv) hv.emplace();
    if (!hv->hvSocketConfig) hv->hvSocketConfig.emplace();
    if (type == "Remove") {
      hv->hvSocketConfig->serviceTable.erase(parts[5]);
      return OkStatus();
    }
    schema::HvSocketServiceConfig c;
    HCS_RETURN_IF_ERROR(settingsAs(c));
    hv->hvSocketConfig->serviceTable[parts[5]] = std::move(c);
    return OkStatus();
  }
  if (path == "VirtualMachine/ComputeTopology/Memory/SizeInMB" || path == "Container/Memory/SizeInMB") {
    if (type != "Update") return bad("only Update is valid");
    uint64_t mb = 0;
    HCS_RETURN_IF_ERROR(settingsAs(mb));
    if (mb < 64) return hcsError(hr::kInvalidArg, op, s.id, "Settings: " + std::to_string(mb) + " MB is below the 64 MB minimum");
    if (parts[0] == "VirtualMachine") {
      if (!s.doc.virtualMachine) return bad("the system is not a virtual machine");
      s.doc.virtualMachine->computeTopology->memory->sizeInMB = mb;
    } else {
      if (!s.doc.container) return bad("the system is not a container");
      if (!s.doc.container->memory) s.doc.container->memory.emplace();
      s.doc.container->memory->sizeInMB = mb;
    }
    return OkStatus();
  }
  if (path == "Container/MappedDirectories") {
    if (!s.doc.container) return bad("the system is not a container");
    schema::MappedDirectory md;
    HCS_RETURN_IF_ERROR(settingsAs(md));
    auto& list = s.doc.container->mappedDirectories;
    auto it = std::find_if(list.begin(), list.end(), [&](const auto& x) { return x.containerPath == md.containerPath; });
    if (type == "Remove") {
      if (it == list.end()) return hcsError(hr::kElementNotFound, op, s.id, "no mapped directory at " + md.containerPath.value_or(""));
      list.erase(it);
      return OkStatus();
    }
    if (!fileExists(md.hostPath.value_or(""))) return hcsError(hr::kFileNotFound, op, s.id, "Settings.HostPath: " + md.hostPath.value_or("") + " not found");
    if (it != list.end()) return hcsError(hr::kAlreadyExists, op, s.id, "a directory is mapped at " + md.containerPath.value_or(""));
    list.push_back(std::move(md));
    return OkStatus();
  }
  if (path == "Container/Processor" || path == "VirtualMachine/ComputeTopology/Processor/CpuGroup" ||
      path == "VirtualMachine/ComputeTopology/Processor/Limits") {
    if (type != "Update") return bad("only Update is valid");
    if (!req.settings.is_object()) return hcsError(hr::kHcsInvalidJson, op, s.id, "Settings: want object");
    return OkStatus();
  }
  static const char* kOpaque[] = {"VirtualMachine/Devices/VirtualSmb/Shares", "VirtualMachine/Devices/MappedPipes/",
                                  "VirtualMachine/Devices/VirtualPci/", "VirtualMachine/Devices/ComPorts/"};
  for (const char* prefix : kOpaque) {
    if (path.starts_with(prefix)) {
      HCS_RETURN_IF_ERROR(needVm());
      return OkStatus();  // accepted; these devices have no effect in the fake
    }
  }
  return bad("unknown resource path");
}

Task<Status> FakeHcsService::modify(std::shared_ptr<SystemRecord> s, std::string settings) {
  const char* op = "Modify";
  auto req = schema::decode<schema::ModifySettingRequest>(std::string_view(settings));
  if (!req.ok()) co_return invalidJson(req.status(), op, s->id);
  bool preAdd = req->requestType.value_or("") == "PreAdd";
  HCS_CO_RETURN_IF_ERROR(preAdd ? checkState(*s, op, {SystemState::kCreated})
                                : checkState(*s, op, {SystemState::kRunning, SystemState::kPaused}));
  if (!req->resourcePath && req->guestRequest.is_null()) {
    co_return hcsError(hr::kHcsInvalidJson, op, s->id, "one of ResourcePath or GuestRequest is required");
  }
  if (!req->guestRequest.is_null() && !s->doc.virtualMachine) {
    co_return hcsError(hr::kInvalidArg, op, s->id, "GuestRequest is only valid for a virtual machine");
  }
  co_await settle();
  if (req->resourcePath) {
    // Validate and record on a copy: a request the backend refuses changes nothing.
    schema::ComputeSystem before = s->doc;
    HCS_CO_RETURN_IF_ERROR(applyModify(*s, *req));
    if (s->doc.virtualMachine) {
      Status applied = co_await vm_->modify(s->id, *req);
      if (!applied.ok()) {
        s->doc = std::move(before);
        co_return applied.withContext(op, s->id);
      }
    }
  } else {
    HCS_CO_RETURN_IF_ERROR((co_await vm_->modify(s->id, *req)).withContext(op, s->id));
  }
  HLOG(Info, "hcs_fake.system.modified").kv("id", s->id).kv("path", req->resourcePath.value_or("(guest)")).kv("type", req->requestType.value_or(""));
  co_return OkStatus();
}

}  // namespace hcsshim::hcs_fake
