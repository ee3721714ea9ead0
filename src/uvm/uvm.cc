#include "src/uvm/uvm.h"

#include <filesystem>
#include <set>

#include "src/common/bug_zoo.h"
#include "src/common/log.h"
#include "src/runtime/read_file.h"

namespace hcsshim::uvm {

using runtime::Task;
namespace fs = std::filesystem;
namespace hr = hresult;

namespace {

constexpr uint32_t kMaxLunsPerController = 64;

// (Built outside coroutines: GCC 12 mishandles braced temporaries there.)
schema::ModifySettingRequest hcsModify(const std::string& path, const char* type, Json settings) {
  schema::ModifySettingRequest r;
  r.resourcePath = path;
  r.requestType = type;
  r.settings = std::move(settings);
  return r;
}

bridge::ModifyRequest guestModify(const char* resource, const char* type, Json settings) {
  bridge::ModifyRequest r;
  r.resourceType = resource;
  r.requestType = type;
  r.settings = std::move(settings);
  return r;
}

}  // namespace

std::string joinHostPath(const std::string& dir, const std::string& name) {
  bool windows = dir.find('\\') != std::string::npos && dir.find('/') == std::string::npos;
  char sep = windows ? '\\' : '/';
  if (!dir.empty() && dir.back() == sep) return dir + name;
  return dir + sep + name;
}

StatusOr<std::string> initArgsFor(const LcowOptions& o) {
  auto bad = [&](const std::string& why) { return Status::fromHResult(hr::kInvalidArg, "CreateUVM", o.id, why); };
  if (!o.initArgs.empty()) {
    if (o.initArgs.find('\n') != std::string::npos) return bad("initArgs: one line, no newline");
    return o.initArgs;
  }
  std::string file = joinHostPath(o.bootFilesPath, kInitArgsFile);
  if (!fs::exists(file)) return std::string(kDefaultInitArgs);
  auto text = runtime::readFile(file, 4096);
  if (!text) return bad("boot files: " + file + " cannot be read");
  std::string line = *text;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return bad("boot files: " + file + " is empty (remove it for the default init)");
  if (line.find('\n') != std::string::npos) return bad("boot files: " + file + " must be one line");
  return line;
}

StatusOr<std::string> kernelCommandLine(const LcowOptions& o) {
  HCS_ASSIGN_OR_RETURN(std::string init, initArgsFor(o));
  // The kernel hands everything after "--" to init (by default ours: it
  // takes entropy from vsock port 1 and runs the agent with its output on
  // port 109).
  std::string cmd = "panic=-1 quiet pci=off nr_cpus=" + std::to_string(o.processors) + " brd.rd_nr=0 pmtmr=0 -- " + init;
  if (!o.kernelBootOptions.empty()) cmd = o.kernelBootOptions + " " + cmd;
  if (cmd.size() > 2048) {
    return Status::fromHResult(hr::kInvalidArg, "CreateUVM", o.id,
                               "the kernel command line is " + std::to_string(cmd.size()) + " bytes; the limit is 2048");
  }
  return cmd;
}

StatusOr<schema::ComputeSystem> lcowDocument(const LcowOptions& o) {
  auto bad = [&](const std::string& why) { return Status::fromHResult(hr::kInvalidArg, "CreateUVM", o.id, why); };
  if (o.id.empty()) return bad("the VM needs an id");
  if (o.bootFilesPath.empty()) return bad("bootFilesPath is required");
  if (o.memoryMB < 256) return bad("memoryMB " + std::to_string(o.memoryMB) + " is below 256");
  if (o.processors == 0 || o.processors > 64) return bad("processors must be 1..64");
  if (o.scsiControllers > 4) return bad("an LCOW VM has at most 4 SCSI controllers");
  if (o.vpmemCount > 128) return bad("vpmemCount is at most 128");
  std::string kernel = o.kernelFile;
  if (kernel.empty()) kernel = fs::exists(joinHostPath(o.bootFilesPath, "vmlinux")) ? "vmlinux" : "kernel";
  schema::ComputeSystem cs;
  cs.owner = o.owner;
  cs.schemaVersion = schema::Version{2, 1, {}};
  cs.shouldTerminateOnLastHandleClosed = true;
  auto& vm = cs.virtualMachine.emplace();
  vm.stopOnReset = true;
  auto& direct = vm.chipset.emplace().linuxKernelDirect.emplace();
  direct.kernelFilePath = joinHostPath(o.bootFilesPath, kernel);
  direct.initRdPath = joinHostPath(o.bootFilesPath, o.rootfsFile);
  HCS_ASSIGN_OR_RETURN(direct.kernelCmdLine, kernelCommandLine(o));
  auto& topo = vm.computeTopology.emplace();
  auto& mem = topo.memory.emplace();
  mem.sizeInMB = o.memoryMB;
  mem.allowOvercommit = true;
  topo.processor.emplace().count = o.processors;
  auto& dev = vm.devices.emplace();
  for (uint32_t i = 0; i < scsiControllerCount(o); ++i) dev.scsi[kScsiControllerGuids[i]] = schema::Scsi{};
  if (o.vpmemCount > 0) {
    auto& pmem = dev.virtualPMem.emplace();
    pmem.maximumCount = o.vpmemCount;
    pmem.maximumSizeBytes = o.vpmemSizeBytes;
  }
  dev.plan9.emplace();
  dev.hvSocket.emplace();
  auto& gc = vm.guestConnection.emplace();
  gc.useVsock = true;
  gc.useConnectedSuspend = true;
  return cs;
}

Status UtilityVM::fail(std::string_view step, const Status& st) const {
  if (st.ok()) return st;
  HResult hr = st.hresult() != hr::kOk ? st.hresult() : hresultFromCode(st.code());
  return Status::fromHResult(hr, std::string(step), options_.id, st.message());
}

Task<StatusOr<std::unique_ptr<UtilityVM>>> UtilityVM::create(runtime::Runtime& rt, hcs::HcsApi& hcs,
                                                             std::unique_ptr<bridge::VsockHost> vsock,
                                                             LcowOptions options) {
  auto doc = lcowDocument(options);
  if (!doc.ok()) co_return doc.status();
  std::unique_ptr<UtilityVM> vm(new UtilityVM(rt, std::move(vsock), options));
  std::string text = jsonText(schema::encode(*doc));
  auto cs = co_await hcs::ComputeSystem::create(hcs, rt.loop(), options.id, text);
  if (!cs.ok()) co_return vm->fail("CreateComputeSystem", cs.status());
  vm->system_ = std::move(*cs);
  HLOG(Info, "uvm.created").kv("vm", options.id).kv("memory_mb", options.memoryMB).kv("processors", options.processors);
  co_return vm;
}

UtilityVM::~UtilityVM() {
  for (auto& l : bootListeners_) l->close();
  if (guest_) guest_->close();
  if (system_) system_->close();  // ShouldTerminateOnLastHandleClosed takes it down
}

Task<void> UtilityVM::serveEntropy(std::shared_ptr<runtime::Listener> l) {
  for (;;) {
    auto s = co_await l->accept();
    if (!s.ok()) co_return;
    HLOG(Debug, "uvm.boot.entropy").kv("vm", options_.id).kv("since_start_ms", sinceStartMs());
    std::string seed(512, '\0');
    for (size_t i = 0; i < seed.size(); i += 8) {
      uint64_t r = rt_.random().next();
      for (size_t b = 0; b < 8; ++b) seed[i + b] = static_cast<char>(r >> (8 * b));
    }
    (void)co_await (*s)->write(seed);
    (*s)->close();
  }
}

Task<void> UtilityVM::serveLog(std::shared_ptr<runtime::Listener> l) {
  std::string id = options_.id;
  for (;;) {
    auto s = co_await l->accept();
    if (!s.ok()) co_return;
    HLOG(Debug, "uvm.boot.log_connected").kv("vm", id).kv("since_start_ms", sinceStartMs());
    // Each line of the guest's log becomes one host log event with the VM id.
    runtime::spawn([](std::unique_ptr<runtime::Stream> in, std::string id) -> Task<void> {
      std::string pending;
      char buf[16384];
      for (;;) {
        auto n = co_await in->read(buf);
        if (!n.ok() || *n == 0) break;
        pending.append(buf, *n);
        size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
          HLOG(Debug, "uvm.guest_log").kv("vm", id).kv("line", pending.substr(0, nl));
          pending.erase(0, nl + 1);
        }
        if (pending.size() > 65536) pending.clear();
      }
    }(std::move(*s), id));
  }
}

int64_t UtilityVM::sinceStartMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(rt_.loop().now() - startedAt_).count();
}

Task<Status> UtilityVM::start() {
  auto t0 = rt_.loop().now();
  startedAt_ = t0;
  if (vsock_->needsRuntimeId()) {
    // AF_HYPERV: the listeners' VmId is the system's RuntimeId (hcsshim
    // reads it the same way, after create).
    auto props_task = system_->properties();
    auto props = co_await std::move(props_task);
    if (!props.ok()) co_return fail("Start: reading the RuntimeId", props.status());
    if (!props->runtimeId) co_return fail("Start", InternalError("HCS reported no RuntimeId for the VM"));
    Status bound = vsock_->bindToVm(*props->runtimeId);
    if (!bound.ok()) co_return fail("Start: vsock", bound);
  }
  // The guest dials as soon as it runs: listen first.
  const uint32_t ports[] = {bridge::kEntropyPort, bridge::kLogPort, bridge::kBridgePort};
  for (uint32_t port : ports) {
    auto l = vsock_->listen(port);
    if (!l.ok()) co_return fail("Start: listen on vsock port " + std::to_string(port), l.status());
    bootListeners_.push_back(std::shared_ptr<runtime::Listener>(std::move(*l)));
  }
  runtime::spawn(serveEntropy(bootListeners_[0]));
  runtime::spawn(serveLog(bootListeners_[1]));
  Status st = co_await system_->start();
  if (!st.ok()) co_return fail("Start", st);
  HLOG(Debug, "uvm.boot.system_started").kv("vm", options_.id).kv("since_start_ms", sinceStartMs());
  bridge::GuestConnectionOptions gopt = options_.guest;
  gopt.connectTimeout = options_.bootTimeout;
  auto gc = co_await bridge::GuestConnection::accept(rt_.loop(), *bootListeners_[2], *vsock_, options_.id, gopt);
  if (!gc.ok()) co_return fail("Start: connecting to the guest agent", gc.status());
  guest_ = std::move(*gc);
  bootListeners_[2]->close();
  bootTime_ = rt_.loop().now() - t0;
  HLOG(Info, "uvm.started").kv("vm", options_.id)
      .kv("boot_ms", std::chrono::duration_cast<std::chrono::milliseconds>(bootTime_).count());
  co_return OkStatus();
}

Task<StatusOr<UtilityVM::ScsiDisk>> UtilityVM::addScsi(std::string hostPath, bool readOnly) {
  if (!guest_) co_return fail("AddSCSI", FailedPreconditionError("the VM is not started"));
  auto it = scsi_.find(hostPath);
  if (it != scsi_.end()) {
    ++it->second.refs;
    co_return ScsiDisk{it->second.controller, it->second.lun, it->second.guestPath};
  }
  // The first free (controller, lun).
  std::set<std::pair<uint32_t, uint32_t>> used;
  for (auto& [p, r] : scsi_) used.insert({r.controller, r.lun});
  std::optional<std::pair<uint32_t, uint32_t>> slot;
  for (uint32_t c = 0; c < scsiControllerCount(options_) && !slot; ++c) {
    for (uint32_t l = 0; l < kMaxLunsPerController && !slot; ++l) {
      if (!used.count({c, l})) slot = std::make_pair(c, l);
    }
  }
  if (!slot) co_return fail("AddSCSI", Status::fromHResult(hr::kOutOfMemory, "", "", "no free SCSI slot"));
  std::string path = std::string("VirtualMachine/Devices/Scsi/") + kScsiControllerGuids[slot->first] + "/Attachments/" +
                     std::to_string(slot->second);
  Json attachment = {{"Type", "VirtualDisk"}, {"Path", hostPath}, {"ReadOnly", readOnly}};
  auto req = hcsModify(path, "Add", attachment);
  Status st = co_await system_->modify(req);
  if (!st.ok()) co_return fail("AddSCSI " + hostPath, st);
  std::string guestPath = "/run/mounts/scsi/m" + std::to_string(slot->first * kMaxLunsPerController + slot->second);
  Json disk = {{"MountPath", guestPath}, {"Controller", slot->first}, {"Lun", slot->second}, {"ReadOnly", readOnly}};
  auto greq = guestModify(bridge::resource::kMappedVirtualDisk, "Add", disk);
  st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  if (!st.ok()) {
    auto undo = hcsModify(path, "Remove", Json::object());
    (void)co_await system_->modify(undo);
    co_return fail("AddSCSI " + hostPath + ": mounting in the guest", st);
  }
  scsi_[hostPath] = Ref{guestPath, slot->first, slot->second, 0, 1};
  co_return ScsiDisk{slot->first, slot->second, guestPath};
}

Task<Status> UtilityVM::removeScsi(std::string hostPath) {
  auto it = scsi_.find(hostPath);
  if (it == scsi_.end()) co_return fail("RemoveSCSI", NotFoundError(hostPath + " is not attached"));
  if (--it->second.refs > 0) co_return OkStatus();
  Ref r = it->second;
  scsi_.erase(it);
  Json disk = {{"MountPath", r.guestPath}, {"Controller", r.controller}, {"Lun", r.lun}};
  auto greq = guestModify(bridge::resource::kMappedVirtualDisk, "Remove", disk);
  Status st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  if (!st.ok()) co_return fail("RemoveSCSI " + hostPath + ": unmounting in the guest", st);
  auto unplug = guestModify(bridge::resource::kScsiDevice, "Remove", disk);
  (void)co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), unplug);
  std::string path = std::string("VirtualMachine/Devices/Scsi/") + kScsiControllerGuids[r.controller] +
                     "/Attachments/" + std::to_string(r.lun);
  auto req = hcsModify(path, "Remove", Json::object());
  st = co_await system_->modify(req);
  co_return fail("RemoveSCSI " + hostPath, st);
}

Task<StatusOr<std::string>> UtilityVM::addVPMem(std::string hostPath) {
  if (!guest_) co_return fail("AddVPMem", FailedPreconditionError("the VM is not started"));
  auto it = vpmem_.find(hostPath);
  if (it != vpmem_.end()) {
    ++it->second.refs;
    co_return it->second.guestPath;
  }
  std::set<uint32_t> used;
  for (auto& [p, r] : vpmem_) used.insert(r.index);
  uint32_t n = 0;
  while (used.count(n)) ++n;
  if (n >= options_.vpmemCount) co_return fail("AddVPMem", Status::fromHResult(hr::kOutOfMemory, "", "", "no free VPMem device"));
  std::string path = "VirtualMachine/Devices/VirtualPMem/Devices/" + std::to_string(n);
  Json device = {{"HostPath", hostPath}, {"ReadOnly", true}, {"ImageFormat", "Vhd1"}};
  auto req = hcsModify(path, "Add", device);
  Status st = co_await system_->modify(req);
  if (!st.ok()) co_return fail("AddVPMem " + hostPath, st);
  std::string guestPath = "/run/layers/p" + std::to_string(n);
  Json mount = {{"DeviceNumber", n}, {"MountPath", guestPath}};
  auto greq = guestModify(bridge::resource::kVPMemDevice, "Add", mount);
  st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  if (!st.ok()) {
    auto undo = hcsModify(path, "Remove", Json::object());
    (void)co_await system_->modify(undo);
    co_return fail("AddVPMem " + hostPath + ": mounting in the guest", st);
  }
  vpmem_[hostPath] = Ref{guestPath, 0, 0, n, 1};
  co_return guestPath;
}

Task<Status> UtilityVM::removeVPMem(std::string hostPath) {
  auto it = vpmem_.find(hostPath);
  if (it == vpmem_.end()) co_return fail("RemoveVPMem", NotFoundError(hostPath + " is not attached"));
  if (--it->second.refs > 0) co_return OkStatus();
  Ref r = it->second;
  vpmem_.erase(it);
  Json mount = {{"DeviceNumber", r.index}, {"MountPath", r.guestPath}};
  auto greq = guestModify(bridge::resource::kVPMemDevice, "Remove", mount);
  Status st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  if (!st.ok()) co_return fail("RemoveVPMem " + hostPath + ": unmounting in the guest", st);
  auto req = hcsModify("VirtualMachine/Devices/VirtualPMem/Devices/" + std::to_string(r.index), "Remove", Json::object());
  co_return fail("RemoveVPMem " + hostPath, co_await system_->modify(req));
}

Task<Status> UtilityVM::addNetworkEndpoint(schema::HostComputeEndpoint ep, std::string namespaceId) {
  if (!guest_) co_return fail("AddNetworkEndpoint", FailedPreconditionError("the VM is not started"));
  std::string id = ep.id.value_or("");
  if (id.empty() || !ep.macAddress) co_return fail("AddNetworkEndpoint", InvalidArgumentError("the endpoint needs an ID and a MacAddress"));
  if (nics_.count(id)) co_return fail("AddNetworkEndpoint " + id, AlreadyExistsError("the endpoint is already in this VM"));
  Json nic = {{"EndpointId", id}, {"MacAddress", *ep.macAddress}};
  auto req = hcsModify("VirtualMachine/Devices/NetworkAdapters/" + id, "Add", nic);
  Status st = co_await system_->modify(req);
  if (!st.ok()) co_return fail("AddNetworkEndpoint " + id, st);
  bridge::LcowNetworkAdapter a;
  a.namespaceId = namespaceId;
  a.id = id;
  a.macAddress = *ep.macAddress;
  for (auto& ip : ep.ipConfigurations) a.ipConfigs.push_back({ip.ipAddress.value_or(""), ip.prefixLength, {}});
  for (auto& r : ep.routes) a.routes.push_back({r.nextHop, r.destinationPrefix, r.metric, {}});
  if (ep.dns) {
    a.dnsSuffix = ep.dns->suffix ? ep.dns->suffix : ep.dns->domain;
    std::string servers;
    for (auto& server : ep.dns->serverList) servers += (servers.empty() ? "" : ",") + server;
    if (!servers.empty()) a.dnsServerList = servers;
  }
  auto greq = guestModify(bridge::resource::kNetwork, "Add", schema::encode(a));
  st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  if (!st.ok()) {
    auto undo = hcsModify("VirtualMachine/Devices/NetworkAdapters/" + id, "Remove", Json::object());
    (void)co_await system_->modify(undo);
    co_return fail("AddNetworkEndpoint " + id + ": configuring it in the guest", st);
  }
  nics_[id] = a;
  co_return OkStatus();
}

Task<Status> UtilityVM::removeNetworkEndpoint(std::string endpointId) {
  auto it = nics_.find(endpointId);
  if (it == nics_.end()) co_return fail("RemoveNetworkEndpoint", NotFoundError(endpointId + " is not in this VM"));
  Json settings = {{"NamespaceID", it->second.namespaceId}, {"ID", endpointId}};
  nics_.erase(it);
  auto greq = guestModify(bridge::resource::kNetwork, "Remove", settings);
  Status st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  auto req = hcsModify("VirtualMachine/Devices/NetworkAdapters/" + endpointId, "Remove", Json::object());
  Status unplug = co_await system_->modify(req);
  if (!st.ok()) co_return fail("RemoveNetworkEndpoint " + endpointId + ": in the guest", st);
  co_return fail("RemoveNetworkEndpoint " + endpointId, unplug);
}

Task<StatusOr<std::string>> UtilityVM::addPlan9(std::string hostPath, bool readOnly) {
  if (!guest_) co_return fail("AddPlan9", FailedPreconditionError("the VM is not started"));
  auto it = plan9_.find(hostPath);
  if (it != plan9_.end()) {
    ++it->second.refs;
    co_return it->second.guestPath;
  }
  uint32_t n = nextShare_++;
  std::string name = "s" + std::to_string(n);
  Json share = {{"Name", name}, {"AccessName", name}, {"Path", hostPath}, {"Port", 564}, {"ReadOnly", readOnly}};
  auto req = hcsModify("VirtualMachine/Devices/Plan9/Shares", "Add", share);
  Status st = co_await system_->modify(req);
  if (!st.ok()) co_return fail("AddPlan9 " + hostPath, st);
  std::string guestPath = "/run/mounts/plan9/" + name;
  Json mount = {{"MountPath", guestPath}, {"ShareName", name}, {"Port", 564}, {"ReadOnly", readOnly}};
  auto greq = guestModify(bridge::resource::kMappedDirectory, "Add", mount);
  st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  if (!st.ok()) {
    auto undo = hcsModify("VirtualMachine/Devices/Plan9/Shares", "Remove", Json{{"Name", name}});
    (void)co_await system_->modify(undo);
    co_return fail("AddPlan9 " + hostPath + ": mounting in the guest", st);
  }
  plan9_[hostPath] = Ref{guestPath, 0, 0, n, 1};
  co_return guestPath;
}

Task<Status> UtilityVM::removePlan9(std::string hostPath) {
  auto it = plan9_.find(hostPath);
  if (it == plan9_.end()) co_return fail("RemovePlan9", NotFoundError(hostPath + " is not shared"));
  if (--it->second.refs > 0) co_return OkStatus();
  Ref r = it->second;
  plan9_.erase(it);
  std::string name = "s" + std::to_string(r.index);
  Json mount = {{"MountPath", r.guestPath}, {"ShareName", name}};
  auto greq = guestModify(bridge::resource::kMappedDirectory, "Remove", mount);
  Status st = co_await guest_->modifySettings(std::string(bridge::kUvmContainerId), greq);
  if (!st.ok()) co_return fail("RemovePlan9 " + hostPath + ": unmounting in the guest", st);
  auto req = hcsModify("VirtualMachine/Devices/Plan9/Shares", "Remove", Json{{"Name", name}});
  co_return fail("RemovePlan9 " + hostPath, co_await system_->modify(req));
}

Task<Status> UtilityVM::releaseLayer(std::string hostPath) {
  if (plan9_.count(hostPath)) co_return co_await removePlan9(hostPath);
  if (vpmem_.count(hostPath)) co_return co_await removeVPMem(hostPath);
  if (scsi_.count(hostPath)) co_return co_await removeScsi(hostPath);
  co_return OkStatus();
}

// addLayerImage: VPMem when the image fits a device and one is free, else
// a read-only SCSI disk (any other VPMem failure is the answer).
Task<StatusOr<std::string>> UtilityVM::addLayerImage(std::string hostPath) {
  std::error_code ec;
  uint64_t size = fs::file_size(hostPath, ec);
  if (ec) co_return fail("AddLayer", Status::fromHResult(hr::kFileNotFound, "", "", hostPath + ": " + ec.message()));
  if (vpmem_.count(hostPath) || (size <= options_.vpmemSizeBytes && vpmem_.size() < options_.vpmemCount)) {
    co_return co_await addVPMem(hostPath);
  }
  HLOG(Info, "uvm.layer.scsi").kv("vm", options_.id).kv("layer", hostPath).kv("bytes", size)
      .kv("reason", size > options_.vpmemSizeBytes ? "larger than a VPMem device" : "no free VPMem device");
  auto disk = co_await addScsi(hostPath, /*readOnly=*/true);
  if (!disk.ok()) co_return disk.status();
  co_return disk->guestPath;
}

Task<StatusOr<std::unique_ptr<Container>>> UtilityVM::createContainer(std::string id, std::vector<std::string> layers,
                                                                      Json spec, std::string scratchDir) {
  if (!guest_) co_return fail("CreateContainer", FailedPreconditionError("the VM is not started"));
  if (layers.empty()) co_return fail("CreateContainer " + id, InvalidArgumentError("at least one layer is required"));
  std::unique_ptr<Container> c(new Container(*this, id));
  bridge::CombinedLayers cl;
  cl.containerId = id;
  for (const auto& l : layers) {
    std::error_code ec;
    StatusOr<std::string> guestPath = NotFoundError("");
    if (fs::is_directory(l, ec)) {
      guestPath = co_await addPlan9(l, /*readOnly=*/true);
    } else {
      guestPath = co_await addLayerImage(l);
    }
    if (!guestPath.ok()) {
      for (auto& done : c->layerHostPaths_) (void)co_await releaseLayer(done);
      co_return guestPath.status();
    }
    c->layerHostPaths_.push_back(l);
    cl.layers.push_back(bridge::Layer{*guestPath, {}});
  }
  c->rootPath_ = "/run/gcs/c/" + id + "/rootfs";
  cl.containerRootPath = c->rootPath_;
  cl.scratchPath = "/run/gcs/c/" + id + "/scratch";
  if (!scratchDir.empty()) {
    std::error_code ec;
    bool disk = fs::is_regular_file(scratchDir, ec);
    StatusOr<std::string> scratch = NotFoundError("");
    if (disk) {
      auto d = co_await addScsi(scratchDir, /*readOnly=*/false);
      scratch = d.ok() ? StatusOr<std::string>(d->guestPath + "/scratch/" + id) : StatusOr<std::string>(d.status());
    } else {
      scratch = co_await addPlan9(scratchDir, /*readOnly=*/false);
    }
    if (!scratch.ok()) {
      for (auto& done : c->layerHostPaths_) (void)co_await releaseLayer(done);
      co_return scratch.status();
    }
    c->layerHostPaths_.push_back(scratchDir);
    cl.scratchPath = *scratch;
  }
  auto add = guestModify(bridge::resource::kCombinedLayers, "Add", schema::encode(cl));
  Status st = co_await guest_->modifySettings(id, add);
  if (st.ok()) {
    spec["root"]["path"] = c->rootPath_;
    bridge::ContainerConfig config;
    config.ociSpecification = spec;
    st = co_await guest_->createContainer(id, config);
    if (st.ok()) st = co_await guest_->startContainer(id);
  }
  if (!st.ok()) {
    (void)co_await c->remove();
    co_return fail("CreateContainer " + id, st);
  }
  HLOG(Info, "uvm.container.created").kv("vm", options_.id).kv("container", id).kv("layers", layers.size());
  co_return c;
}

Task<StatusOr<std::unique_ptr<Container>>> UtilityVM::createContainerOnShare(std::string id, std::string rootfsDir,
                                                                             Json spec) {
  if (!guest_) co_return fail("CreateContainer", FailedPreconditionError("the VM is not started"));
  std::unique_ptr<Container> c(new Container(*this, id));
  auto guestPath = co_await addPlan9(rootfsDir, /*readOnly=*/false);
  if (!guestPath.ok()) co_return guestPath.status();
  c->layerHostPaths_.push_back(rootfsDir);
  spec["root"]["path"] = *guestPath;
  spec["root"]["readonly"] = false;
  bridge::ContainerConfig config;
  config.ociSpecification = spec;
  Status st = co_await guest_->createContainer(id, config);
  if (st.ok()) st = co_await guest_->startContainer(id);
  if (!st.ok()) {
    (void)co_await c->remove();
    co_return fail("CreateContainer " + id, st);
  }
  HLOG(Info, "uvm.container.created").kv("vm", options_.id).kv("container", id).kv("rootfs", rootfsDir);
  co_return c;
}

Task<StatusOr<std::unique_ptr<bridge::GuestProcess>>> UtilityVM::exec(bridge::ProcessParameters params,
                                                                      bridge::StdioRequest stdio) {
  if (!guest_) co_return fail("Exec", FailedPreconditionError("the VM is not started"));
  std::string uvm(bridge::kUvmContainerId);
  auto p = co_await guest_->executeProcess(uvm, params, stdio);
  if (!p.ok()) co_return fail("Exec", p.status());
  co_return p;
}

Task<hcs::SystemExit> UtilityVM::waitExit() {
  if (exit_) co_return *exit_;
  hcs::SystemExit e = co_await system_->wait();
  if (!exit_) exit_ = e;
  co_return *exit_;
}

Task<Status> UtilityVM::close() {
  if (closed_) co_return OkStatus();
  closed_ = true;
  for (auto& l : bootListeners_) l->close();
  Status result;
  // hcsshim's order: the VM is shut down (or terminated) through HCS while
  // the bridge is still up, and the bridge is closed only once the VM has
  // exited. A guest agent that treats EOF on the bridge as fatal (hcsshim's
  // does) would otherwise die before the shutdown reaches it, and the exit
  // would be reported as unexpected.
  if (guest_) guest_->expectClose();
  if (guest_ && zoo::reintroduced(zoo::Bug::kBridgeClosedBeforeShutdown)) guest_->close();
  if (!system_->exited()) {
    // A graceful HCS shutdown (the guest gets to stop its containers);
    // terminate if it takes too long.
    auto graceful = co_await runtime::withTimeout(rt_.loop(), system_->shutdown(), options_.shutdownTimeout,
                                                  []() -> Status { return DeadlineExceededError("shutdown timed out"); });
    if (!graceful.ok() && !system_->exited()) {
      HLOG(Warn, "uvm.shutdown_failed").kv("vm", options_.id).kv("error", graceful.toString());
      Status forced = co_await system_->terminate();
      if (!forced.ok() && !system_->exited()) result = fail("Close: terminate", forced);
    }
  }
  // Keep how it ended for waitExit() before the handle goes.
  if (!exit_) {
    exit_ = co_await runtime::withTimeout(rt_.loop(), system_->wait(), options_.shutdownTimeout, []() {
      return hcs::SystemExit{hr::kHcsOperationTimeout, "Unknown"};
    });
  }
  if (guest_) guest_->close();
  system_->close();
  HLOG(Info, "uvm.closed").kv("vm", options_.id).kv("exit_type", exit_->exitType);
  co_return result;
}

// ---- Container ----

Task<StatusOr<std::unique_ptr<bridge::GuestProcess>>> Container::start(bridge::ProcessParameters params,
                                                                       bridge::StdioRequest stdio) {
  auto p = co_await vm_.guest().executeProcess(id_, params, stdio);
  if (!p.ok()) co_return vm_.fail("StartContainer " + id_, p.status());
  co_return p;
}

Task<StatusOr<std::unique_ptr<bridge::GuestProcess>>> Container::exec(Json ociProcess, bridge::StdioRequest stdio,
                                                                      bool terminal) {
  bridge::ProcessParameters pp;
  pp.ociProcess = std::move(ociProcess);
  pp.emulateConsole = terminal;
  auto p = co_await vm_.guest().executeProcess(id_, pp, stdio);
  if (!p.ok()) co_return vm_.fail("Exec in " + id_, p.status());
  co_return p;
}

Task<StatusOr<bridge::ContainerNotification>> Container::waitExit() { co_return co_await vm_.guest().waitForExit(id_); }

Task<Status> Container::shutdown(bool forced) {
  co_return vm_.fail("Shutdown " + id_, co_await vm_.guest().shutdownContainer(id_, forced));
}

Task<StatusOr<bridge::GuestProperties>> Container::properties(std::vector<std::string> types) {
  schema::PropertyQuery q;
  q.propertyTypes = std::move(types);
  auto p = co_await vm_.guest().getProperties(id_, q);
  if (!p.ok()) co_return vm_.fail("Properties " + id_, p.status());
  co_return p;
}

Task<Status> Container::update(Json resources) {
  co_return vm_.fail("Update " + id_, co_await vm_.guest().updateContainer(id_, std::move(resources)));
}

Task<Status> Container::remove() {
  if (removed_) co_return OkStatus();
  removed_ = true;
  Status result;
  if (!vm_.guest().closed()) {
    Status st = co_await vm_.guest().deleteContainerState(id_);
    if (!st.ok() && st.hresult() != hr::kHcsSystemNotFound) result = vm_.fail("Remove " + id_, st);
    if (!rootPath_.empty()) {
      bridge::CombinedLayers cl;
      cl.containerRootPath = rootPath_;
      auto rm = guestModify(bridge::resource::kCombinedLayers, "Remove", schema::encode(cl));
      (void)co_await vm_.guest().modifySettings(id_, rm);  // gone already if the state was deleted
    }
  }
  for (auto& l : layerHostPaths_) {
    Status st = co_await vm_.releaseLayer(l);
    if (!st.ok() && result.ok()) result = st;
  }
  layerHostPaths_.clear();
  co_return result;
}

}  // namespace hcsshim::uvm
