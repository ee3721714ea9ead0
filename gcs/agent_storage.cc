// agent_storage.cc: modify settings - combined layers, mapped directories, disks, network.
#include "gcs/agent_internal.h"
#include "src/runtime/wait_for.h"

namespace hcsshim::gcs {

Status mkdirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::fromHResult(hr::kFail, "", "", "mkdir " + path + ": " + ec.message());
  return OkStatus();
}

Result modifyCombinedLayers(State& s, const ModifyRequest& r) {
  HCS_ASSIGN_OR_RETURN(auto cl, decodeAs<CombinedLayers>(jsonText(r.settings), "Request.Settings"));
  HCS_ASSIGN_OR_RETURN(std::string root, s.paths.check(cl.containerRootPath, "Settings.ContainerRootPath"));
  if (r.requestType == "Remove") {
    if (!s.overlays.count(root)) return notFound("no combined layers are mounted at " + root);
    HCS_RETURN_IF_ERROR(s.mounter.unmount(root));
    s.overlays.erase(root);
    ::rmdir(root.c_str());
    return Json::object();
  }
  if (r.requestType != "Add") return invalidArg("Request.RequestType: CombinedLayers takes Add or Remove");
  if (cl.layers.empty()) return invalidArg("Settings.Layers: at least one layer is required");
  if (s.overlays.count(root)) {
    return Status::fromHResult(hr::kAlreadyExists, "", "", "combined layers are already mounted at " + root);
  }
  std::vector<std::string> layers;
  for (size_t i = 0; i < cl.layers.size(); ++i) {
    std::string field = "Settings.Layers[" + std::to_string(i) + "].Path";
    HCS_ASSIGN_OR_RETURN(std::string l, s.paths.check(cl.layers[i].path, field));
    if (l.find_first_of(":,") != std::string::npos) return invalidArg(field + ": \"" + l + "\" contains ':' or ','");
    if (!fs::is_directory(l)) return notFound(field + ": " + l + " is not a directory");
    layers.push_back(l);
  }
  std::string scratch;
  if (cl.scratchPath && !cl.scratchPath->empty()) {
    HCS_ASSIGN_OR_RETURN(scratch, s.paths.check(*cl.scratchPath, "Settings.ScratchPath"));
    if (scratch.find_first_of(":,") != std::string::npos) return invalidArg("Settings.ScratchPath: contains ':' or ','");
    HCS_RETURN_IF_ERROR(mkdirs(scratchUpperDir(scratch)));
    HCS_RETURN_IF_ERROR(mkdirs(scratch + "/work"));
  }
  HCS_RETURN_IF_ERROR(mkdirs(root));
  // overlay needs two lower layers when there is no upper: a single
  // read-only layer is a read-only bind instead.
  if (scratch.empty() && layers.size() == 1) {
    HCS_RETURN_IF_ERROR(s.mounter.mount(layers[0], root, "", MS_BIND, ""));
    (void)s.mounter.mount("", root, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "");
  } else {
    HCS_RETURN_IF_ERROR(s.mounter.mount("overlay", root, "overlay", scratch.empty() ? MS_RDONLY : 0,
                                        overlayOptions(layers, scratch)));
  }
  s.overlays[root] = cl.containerId.value_or("");
  return Json::object();
}

Result modifyMappedDirectory(State& s, const ModifyRequest& r) {
  HCS_ASSIGN_OR_RETURN(auto md, decodeAs<MappedDirectory>(jsonText(r.settings), "Request.Settings"));
  HCS_ASSIGN_OR_RETURN(std::string target, s.paths.check(md.mountPath, "Settings.MountPath"));
  if (r.requestType == "Remove") {
    if (!s.mounts.count(target)) return notFound("no directory is mapped at " + target);
    HCS_RETURN_IF_ERROR(s.mounter.unmount(target));
    s.mounts.erase(target);
    ::rmdir(target.c_str());  // the mount point we made
    return Json::object();
  }
  if (r.requestType != "Add") return invalidArg("Request.RequestType: MappedDirectory takes Add or Remove");
  if (s.mounts.count(target)) return Status::fromHResult(hr::kAlreadyExists, "", "", "a directory is mapped at " + target);
  std::string share = md.shareName.value_or("");
  if (share.empty() || share.find_first_of("/,") != std::string::npos || share == "." || share == "..") {
    return invalidArg("Settings.ShareName: \"" + share + "\" is not a share name");
  }
  if (s.options.plan9Root.empty()) {
    // In a VM: the host serves the share over 9p on a vsock port.
    if (!md.port || *md.port == 0) return invalidArg("Settings.Port: the Plan9 server's vsock port is required");
    HCS_RETURN_IF_ERROR(mkdirs(target));
    Status st = s.mounter.mount9p(*md.port, share, target, md.readOnly.value_or(false));
    if (!st.ok()) return Status::fromHResult(hr::kFail, "", "", st.message());
    s.mounts.insert(target);
    return Json::object();
  }
  std::string source = s.options.plan9Root + "/" + share;
  if (!fs::is_directory(source)) return notFound("Settings.ShareName: no share named " + share);
  HCS_RETURN_IF_ERROR(mkdirs(target));
  HCS_RETURN_IF_ERROR(s.mounter.mount(source, target, "", MS_BIND, ""));
  if (md.readOnly.value_or(false)) {
    Status ro = s.mounter.mount("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "");
    if (!ro.ok()) {
      (void)s.mounter.unmount(target);
      return ro;
    }
  }
  s.mounts.insert(target);
  return Json::object();
}

// scsiDevice finds the disk at controller/lun.
StatusOr<std::string> scsiDevice(State& s, uint32_t controller, uint32_t lun) {
  if (controller > 3) return invalidArg("Settings.Controller: " + std::to_string(controller) + " is not 0..3");
  if (lun > 63) return invalidArg("Settings.Lun: " + std::to_string(lun) + " is not 0..63");
  if (!s.options.scsiRoot.empty()) {
    std::string p = s.options.scsiRoot + "/" + std::to_string(controller) + "/" + std::to_string(lun);
    if (!fs::exists(p)) return notFound("no disk at SCSI controller " + std::to_string(controller) + " LUN " + std::to_string(lun));
    return p;
  }
  // In a VM: as the kernel shows the controller (devices.h).
  return findScsiDisk(s.options.sysRoot, controller, lun);
}

Result modifyDisk(State& s, const ModifyRequest& r, bool pmem) {
  std::string image, mountPath, fstype = "ext4";
  bool readOnly = true;
  uint64_t offset = 0, size = 0;
  if (pmem) {
    HCS_ASSIGN_OR_RETURN(auto d, decodeAs<VPMemDevice>(jsonText(r.settings), "Request.Settings"));
    mountPath = d.mountPath;
    if (r.requestType == "Add") {
      if (d.deviceNumber >= 128) return invalidArg("Settings.DeviceNumber: " + std::to_string(d.deviceNumber) + " is not 0..127");
      image = s.options.pmemRoot.empty() ? "/dev/pmem" + std::to_string(d.deviceNumber)
                                         : s.options.pmemRoot + "/" + std::to_string(d.deviceNumber);
      if (!fs::exists(image)) return notFound("no VPMem device " + std::to_string(d.deviceNumber));
      if (d.mappingInfo) {
        offset = d.mappingInfo->deviceOffsetInBytes;
        size = d.mappingInfo->deviceSizeInBytes;
      }
    }
  } else {
    HCS_ASSIGN_OR_RETURN(auto d, decodeAs<MappedVirtualDisk>(jsonText(r.settings), "Request.Settings"));
    mountPath = d.mountPath;
    if (r.requestType == "Add") {
      if (d.encrypted.value_or(false)) {
        return Status::fromHResult(hr::kNotImpl, "", "", "Settings.Encrypted: encrypted scratch disks are not implemented");
      }
      if (d.partition.value_or(0) != 0) {
        return Status::fromHResult(hr::kNotImpl, "", "", "Settings.Partition: partitions are not implemented");
      }
      if (!d.options.empty()) {
        return Status::fromHResult(hr::kNotImpl, "", "", "Settings.Options: mount options are not implemented");
      }
      HCS_ASSIGN_OR_RETURN(image, scsiDevice(s, d.controller, d.lun));
      readOnly = d.readOnly.value_or(false);
      if (d.filesystem && !d.filesystem->empty()) fstype = *d.filesystem;
      if (fstype != "ext4" && fstype != "xfs" && fstype != "vfat" && fstype != "ext2" && fstype != "ext3") {
        return invalidArg("Settings.Filesystem: \"" + fstype + "\" is not a supported filesystem");
      }
    }
  }
  HCS_ASSIGN_OR_RETURN(std::string target, s.paths.check(mountPath, "Settings.MountPath"));
  if (r.requestType == "Remove") {
    if (!s.mounts.count(target)) return notFound("nothing is mounted at " + target);
    HCS_RETURN_IF_ERROR(s.mounter.unmount(target));
    s.mounts.erase(target);
    ::rmdir(target.c_str());  // the mount point we made
    return Json::object();
  }
  if (r.requestType != "Add") return invalidArg("Request.RequestType: " + r.resourceType + " takes Add or Remove");
  if (s.mounts.count(target)) return Status::fromHResult(hr::kAlreadyExists, "", "", "a disk is mounted at " + target);
  HCS_RETURN_IF_ERROR(mkdirs(target));
  Status st = s.mounter.mountImage(image, target, fstype, readOnly, offset, size);
  if (!st.ok()) return Status::fromHResult(hr::kFail, "", "", st.message());
  s.mounts.insert(target);
  return Json::object();
}

Result modifySettings(State& s, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<ModifySettingsRequest>(payload));
  const ModifyRequest& r = req.request;
  if (r.requestType != "Add" && r.requestType != "Remove" && r.requestType != "Update") {
    return invalidArg("Request.RequestType: want Add, Remove or Update, got \"" + r.requestType + "\"");
  }
  if (r.resourceType == resource::kCombinedLayers) return modifyCombinedLayers(s, r);
  if (r.resourceType == resource::kMappedDirectory) return modifyMappedDirectory(s, r);
  if (r.resourceType == resource::kMappedVirtualDisk) return modifyDisk(s, r, false);
  if (r.resourceType == resource::kVPMemDevice) return modifyDisk(s, r, true);
  if (r.resourceType == resource::kScsiDevice) {
    // Unplugging: in simulation the disk simply goes; in a VM the kernel is
    // told to delete the device first.
    if (r.requestType != "Remove") return invalidArg("Request.RequestType: SCSIDevice takes Remove");
    HCS_ASSIGN_OR_RETURN(auto d, decodeAs<MappedVirtualDisk>(jsonText(r.settings), "Request.Settings"));
    HCS_ASSIGN_OR_RETURN(std::string dev, scsiDevice(s, d.controller, d.lun));
    if (s.options.scsiRoot.empty()) {
      std::ofstream del("/sys/class/block/" + fs::path(dev).filename().string() + "/device/delete");
      del << "1\n";
    }
    return Json::object();
  }
  if (r.resourceType == resource::kVPciDevice) {
    return Status::fromHResult(hr::kNotImpl, "", req.containerId,
                               "resource type " + r.resourceType + " is not implemented in this guest yet");
  }
  return invalidArg("Request.ResourceType: unknown resource type \"" + r.resourceType + "\"");
}

// hasLinkWithMac: a network interface with that MAC (HNS or Linux form) in
// <sys>/class/net.
bool hasLinkWithMac(const std::string& sys, std::string mac) {
  for (auto& c : mac) c = c == '-' ? ':' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(sys + "/class/net", ec)) {
    std::string address;
    std::ifstream(e.path() / "address") >> address;
    if (address == mac) return true;
  }
  return false;
}

// modifyNetwork: an endpoint's NIC into (Add) or out of (Remove) its namespace.
Task<Result> modifyNetwork(StateP s, ModifyRequest r) {
  if (!s->network) co_return Status::fromHResult(hr::kNotImpl, "", "", "this guest has no network support");
  if (r.requestType != "Add" && r.requestType != "Remove") {
    co_return invalidArg("Request.RequestType: Network takes Add or Remove, got \"" + r.requestType + "\"");
  }
  auto a = decodeAs<LcowNetworkAdapter>(jsonText(r.settings), "Request.Settings");
  if (!a.ok()) co_return a.status();
  if (r.requestType == "Add" && s->options.scsiRoot.empty()) {
    // In a VM the NIC HCS just hot-plugged appears in a moment (PCI probe).
    std::function<bool()> present = [&] { return hasLinkWithMac(s->options.sysRoot, a->macAddress); };
    (void)co_await runtime::waitFor(s->rt.loop(), present, std::chrono::seconds(5));
  }
  // (No co_await inside ?: - GCC 12 miscompiles it.)
  Status st;
  if (r.requestType == "Add") {
    st = co_await s->network->addAdapter(*a);
  } else {
    st = co_await s->network->removeAdapter(a->namespaceId, a->id);
  }
  if (!st.ok()) co_return st;
  co_return Json::object();
}

Task<Result> modifySettingsAsync(StateP s, std::string payload) {
  // The drivers for what is asked may still be loading (gcs/init).
  std::function<bool()> driversLoaded = [&] {
    return s->options.modulesLoading.empty() || !fs::exists(s->options.modulesLoading);
  };
  (void)co_await runtime::waitFor(s->rt.loop(), driversLoaded, std::chrono::seconds(20));
  auto req = decodeAs<ModifySettingsRequest>(payload);
  if (req.ok() && req->request.resourceType == resource::kNetwork) co_return co_await modifyNetwork(s, req->request);
  if (req.ok() && req->request.resourceType == resource::kMappedVirtualDisk && req->request.requestType == "Add" &&
      s->options.scsiRoot.empty()) {
    // A disk HCS just hot-added shows up in a moment: look every 10 ms for
    // up to 5 s, as hcsshim's GCS does.
    auto d = decodeAs<MappedVirtualDisk>(jsonText(req->request.settings), "Request.Settings");
    std::function<bool()> present = [&] {
      return d->controller > 3 || findScsiDisk(s->options.sysRoot, d->controller, d->lun).ok();
    };
    if (d.ok()) (void)co_await runtime::waitFor(s->rt.loop(), present, std::chrono::seconds(5));
  }
  if (req.ok() && req->request.resourceType == resource::kVPMemDevice && req->request.requestType == "Add" &&
      s->options.pmemRoot.empty()) {
    // A hot-added virtio-pmem device: /dev/pmem<n> appears in a moment.
    auto d = decodeAs<VPMemDevice>(jsonText(req->request.settings), "Request.Settings");
    std::function<bool()> present = [&] {
      return d->deviceNumber >= 128 || fs::exists("/dev/pmem" + std::to_string(d->deviceNumber));
    };
    if (d.ok()) (void)co_await runtime::waitFor(s->rt.loop(), present, std::chrono::seconds(5));
  }
  co_return modifySettings(*s, payload);
}

}  // namespace hcsshim::gcs
