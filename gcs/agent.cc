#include "gcs/agent_internal.h"

namespace hcsshim::gcs {

namespace {

// ---- the bridge: negotiation, dispatch, the serve loop ----

Result negotiate(State&, const std::string& payload) {
  HCS_ASSIGN_OR_RETURN(auto req, decodeAs<NegotiateProtocolRequest>(payload));
  if (req.minimumVersion > kProtocolVersion || req.maximumVersion < kProtocolVersion) {
    return Status::fromHResult(hr::kVmcomputeUnsupportedProtocolVersion, "", "",
                               "the guest speaks protocol version 4, the host asked for " +
                                   std::to_string(req.minimumVersion) + ".." + std::to_string(req.maximumVersion));
  }
  NegotiateProtocolResponse r;
  r.version = kProtocolVersion;
  r.capabilities.sendHostCreateMessage = false;
  r.capabilities.sendHostStartMessage = false;
  r.capabilities.hvSocketConfigOnStartup = false;
  r.capabilities.supportedSchemaVersions = {schema::Version{2, 1, {}}};
  r.capabilities.runtimeOsType = "Linux";
  r.capabilities.guestDefinedCapabilities = GuestDefinedCapabilities{true, true, true, true, {}};
  Json j = schema::encode(r);
  return Json{{"Version", j["Version"]}, {"Capabilities", j["Capabilities"]}};
}

Task<Result> dispatch(StateP s, uint32_t type, std::string payload) {
  switch (type) {
    case msg::kNegotiateProtocol: co_return negotiate(*s, payload);
    case msg::kCreate: co_return createContainer(*s, payload);
    case msg::kStart: co_return startContainer(*s, payload);
    case msg::kShutdownGraceful: co_return shutdownContainer(*s, payload, false);
    case msg::kShutdownForced: co_return shutdownContainer(*s, payload, true);
    case msg::kExecuteProcess: co_return co_await executeProcess(s, payload);
    case msg::kWaitForProcess: co_return co_await waitForProcess(s, payload);
    case msg::kSignalProcess: co_return signalProcess(*s, payload);
    case msg::kResizeConsole: co_return resizeConsole(*s, payload);
    case msg::kGetProperties: co_return co_await getProperties(s, payload);
    case msg::kModifySettings: co_return co_await modifySettingsAsync(s, payload);
    case msg::kDumpStacks: co_return dumpStacks(*s);
    case msg::kDeleteContainerState: co_return co_await deleteContainerState(s, payload);
    case msg::kUpdateContainer: co_return co_await updateContainer(s, payload);
    default:
      co_return Status::fromHResult(hr::kNotImpl, "", "", "message type " + typeName(type) + " is not supported");
  }
}

Task<void> handle(StateP s, std::shared_ptr<Connection> conn, Frame f) {
  const uint32_t type = f.header.type;
  Json response = Json::object();
  Result r = Json::object();
  std::string activityId;
  std::string containerId;
  auto parsed = parseJson(f.payload);
  if (!parsed.ok() || !parsed->is_object()) {
    r = invalidArg(parsed.ok() ? "the request is not a JSON object" : "invalid JSON: " + parsed.status().message());
  } else {
    if ((*parsed)["ActivityId"].is_string()) activityId = (*parsed)["ActivityId"].get<std::string>();
    if ((*parsed)["ContainerId"].is_string()) containerId = (*parsed)["ContainerId"].get<std::string>();
    try {
      r = co_await dispatch(s, type, std::move(f.payload));
    } catch (const std::exception& e) {
      r = Status::fromHResult(hr::kFail, "", containerId, std::string("internal error: ") + e.what());
    }
  }
  ResponseBase base;
  base.activityId = activityId;
  if (r.ok()) {
    response = std::move(*r);
  } else {
    fillResponse(base, r.status());
    HLOG(Info, "gcs.request.failed").kv("type", typeName(type)).kv("id", f.header.id).kv("container", containerId)
        .hex("hresult", base.result < 0 ? static_cast<uint32_t>(base.result) : 0u)
        .kv("error", r.status().message());
  }
  Json b = schema::encode(base);
  for (auto& [k, v] : b.items()) response[k] = v;
  if (!response.contains("Result")) response["Result"] = 0;
  std::string text = jsonText(response);
  Status sent = conn->send(responseTypeOf(type), f.header.id, text);
  if (!sent.ok() && sent.code() == Code::kResourceExhausted) {
    // Too big for one message (a huge process list): say so instead.
    ResponseBase tooBig;
    tooBig.activityId = activityId;
    fillResponse(tooBig, Status::fromHResult(hr::kFail, "", containerId, sent.message()));
    (void)conn->send(responseTypeOf(type), f.header.id, jsonText(schema::encode(tooBig)));
  }
  if (s->shutdownRequested && !s->stopping) {
    HLOG(Info, "gcs.shutdown_requested").kv("forced", type == msg::kShutdownForced);
    (void)co_await conn->drained();
    s->stopping = true;
    conn->close();
  }
}

// pauseBeforeRedial waits redialInterval, or less if the agent is stopped
// meanwhile (a VM shutting down must not wait out the redial pause).
Task<void> pauseBeforeRedial(StateP s) {
  bool woke = false;
  auto timer = s->rt.loop().addTimer(s->options.redialInterval, [&woke, s] {
    woke = true;
    s->stopped.notifyAll();
  });
  while (!woke && !s->stopping) co_await s->stopped.wait();
  s->rt.loop().cancelTimer(timer);
}

Task<void> serve(StateP s, std::shared_ptr<Connection> conn) {
  for (;;) {
    auto f = co_await conn->recv();
    if (!f.ok()) {
      if (!runtime::isCleanEof(f.status())) {
        HLOG(Warn, "gcs.bridge.dropped").kv("error", f.status().message());
      }
      break;
    }
    if (kindOf(f->header.type) != Kind::kRequest) {
      HLOG(Warn, "gcs.bridge.unexpected").kv("type", typeName(f->header.type)).kv("id", f->header.id);
      continue;
    }
    HLOG(Debug, "gcs.request").kv("type", typeName(f->header.type)).kv("id", f->header.id);
    runtime::spawn(handle(s, conn, std::move(*f)));
  }
  conn->close();
}

}  // namespace

Agent::Agent(runtime::Runtime& rt, HostDialer& dialer, ContainerRuntime& containers, Mounter& mounter,
             AgentOptions options, NetworkManager* network)
    : s_(std::make_shared<AgentState>(rt, dialer, containers, mounter, std::move(options))) {
  s_->network = network;
}

Agent::~Agent() { stop(); }

void Agent::stop() {
  // Closing the bridge resumes the serve loop inline, which may end run()
  // and the agent's owner with it: hold what is still touched here.
  std::shared_ptr<AgentState> s = s_;
  if (s->stopping) return;
  s->stopping = true;
  if (auto conn = s->conn) conn->close();
  s->stopped.notifyAll();
}

size_t Agent::connections() const { return s_->connections; }
bool Agent::bridgeConnected() const { return s_->conn != nullptr; }
bool Agent::shutdownRequested() const { return s_->shutdownRequested; }
bool Agent::failed() const { return s_->failed; }
size_t Agent::containerCount() const { return s_->containers.size(); }
size_t Agent::processCount() const { return s_->procs.size(); }

Task<void> Agent::run() {
  StateP s = s_;
  std::string bridge = s->dialer.describe(kBridgePort);
  while (!s->stopping) {
    auto stream = co_await s->dialer.dial(kBridgePort);
    if (!stream.ok()) {
      HLOG(Debug, "gcs.bridge.dial_failed").kv("address", bridge).kv("error", stream.status().message());
      co_await pauseBeforeRedial(s);
      continue;
    }
    ++s->connections;
    s->conn = std::make_shared<Connection>(std::move(*stream));
    HLOG(Info, "gcs.bridge.connected").kv("address", bridge).kv("connection", s->connections);
    auto queued = std::move(s->queuedNotifications);
    s->queuedNotifications.clear();
    for (auto& n : queued) (void)s->conn->send(msg::kContainerNotification, 0, n);
    co_await serve(s, s->conn);
    s->conn.reset();
    if (!s->stopping && s->options.exitOnBridgeEof) {
      HLOG(Error, "gcs.bridge.eof").kv("address", bridge).kv("error", "the host hung up the bridge; exiting");
      s->failed = true;
      s->stopping = true;
      break;
    }
    if (!s->stopping) co_await pauseBeforeRedial(s);
  }
  // Leave nothing behind: kill and delete every container, undo mounts.
  for (auto& [id, c] : std::map(s->containers)) {
    if (c->init && !c->init->exit) {
      (void)c->init->p->signal(SIGKILL);
      while (!c->init->exit) co_await c->init->exited.wait();
    }
    (void)co_await removeContainer(s, c);
  }
  for (auto& [root, id] : std::map(s->overlays)) (void)s->mounter.unmount(root);
  s->overlays.clear();
  for (auto& m : std::set(s->mounts)) (void)s->mounter.unmount(m);
  s->mounts.clear();
  for (auto& [pid, p] : std::map(s->procs)) {
    if (!p->exit) (void)p->p->signal(SIGKILL);
  }
  removeEmptyCgroup(s->options.cgroupRoot, s->options.cgroupParent + "/gcs");
  HLOG(Info, "gcs.stopped").kv("connections", s->connections);
}

}  // namespace hcsshim::gcs
