// Hostile hosts against a real `gcs` process: hundreds of requests generated
// from valid ones (fields removed, retyped, oversized, truncated, invalid
// UTF-8, deep nesting, unknown ids and types, hostile paths - including
// inside the JSON-in-a-string fields), and broken framing (sizes outside
// 16..64 KiB, truncated headers and bodies). Every request gets exactly one
// response with its id and the right HRESULT; broken framing drops the
// connection and the agent re-dials; the agent never crashes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "functional/harness/gcs_guest.h"
#include "src/bridge/messages.h"
#include "src/bridge/protocol.h"
#include "src/common/status_matchers.h"
#include "src/runtime/random.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim {
namespace {

using ::hcsshim::testing::IsOk;
using runtime::Task;
using namespace bridge;
namespace hr = hresult;

struct Case {
  std::string what;
  uint32_t type;
  std::string payload;
  // nullopt: any of the precise failure HRESULTs (or success, if the
  // mutation happened to leave a valid request).
  std::optional<HResult> want;
};

class GcsHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("gcs-fuzz"));
    functional::GcsGuest::Options o;
    o.connect = false;
    auto g = functional::GcsGuest::start(*rt_, o);
    ASSERT_THAT(g, IsOk());
    guest_ = std::move(*g);
    reconnect();
  }
  void TearDown() override {
    conn_.reset();
    if (guest_) {
      EXPECT_EQ(guest_->stop(), 0) << "the agent survived and stops cleanly";
    }
  }

  void reconnect() {
    conn_.reset();
    auto s = guest_->acceptRaw();
    ASSERT_THAT(s, IsOk()) << "the agent (re-)dials";
    conn_ = std::make_unique<Connection>(std::move(*s));
    ++accepted_;
  }

  // call sends one frame and returns the response (10 s limit).
  StatusOr<Frame> call(uint32_t type, uint64_t id, const std::string& payload) {
    HCS_RETURN_IF_ERROR(conn_->send(type, id, payload));
    return recv();
  }
  // recv: the next response (container notifications are counted and skipped).
  StatusOr<Frame> recv() {
    for (;;) {
      auto f = recvAny();
      if (f.ok() && kindOf(f->header.type) == Kind::kNotification) {
        ++notifications_;
        continue;
      }
      return f;
    }
  }
  StatusOr<Frame> recvAny() {
    return runtime::blockOn(rt_->loop(), runtime::withTimeout(rt_->loop(), conn_->recv(), std::chrono::seconds(10),
                                                              []() -> StatusOr<Frame> {
                                                                return DeadlineExceededError("no response in 10 s");
                                                              }));
  }

  // connectionDropped: the agent closed this connection (EOF or reset).
  bool connectionDropped() {
    auto f = recv();
    return !f.ok() && f.status().code() != Code::kDeadlineExceeded;
  }

  bool negotiates() {
    auto f = call(msg::kNegotiateProtocol, ++nextId_, R"({"ContainerId":"","ActivityId":"","MinimumVersion":4,"MaximumVersion":4})");
    if (!f.ok()) return false;
    auto r = schema::decode<NegotiateProtocolResponse>(std::string_view(f->payload));
    return r.ok() && r->result == 0 && r->version == 4;
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::unique_ptr<functional::GcsGuest> guest_;
  std::unique_ptr<Connection> conn_;
  uint64_t nextId_ = 0;
  int accepted_ = 0;
  int notifications_ = 0;
};

// ---- request generation ----

struct Seed {
  uint32_t type;
  Json payload;
  std::vector<std::string> innerJsonFields;  // JSON-in-a-string fields, as paths "A.B"
};

std::vector<Seed> seeds(const std::string& root) {
  Json spec = {{"ociVersion", "1.0.2"},
               {"root", {{"path", root + "/rootfs/none"}}},
               {"process", {{"args", {"true"}}, {"cwd", "/"}}}};
  Json cfg = {{"SchemaVersion", {{"Major", 2}, {"Minor", 1}}}, {"OciSpecification", spec}};
  Json pp = {{"CommandArgs", {"true"}}, {"CreateInUtilityVM", true}};
  Json base = {{"ContainerId", "fz"}, {"ActivityId", "00000000-0000-0000-0000-000000000001"}};
  Json layers = Json::object();
  layers["ContainerRootPath"] = root + "/rootfs/fz";
  layers["Layers"] = Json::array({Json{{"Path", root + "/nolayer"}}});
  Json share = Json::object();
  share["MountPath"] = root + "/share";
  share["ShareName"] = "s";
  auto modify = [](const char* type, const Json& settings) {
    Json request = Json::object();
    request["ResourceType"] = type;
    request["RequestType"] = "Add";
    request["Settings"] = settings;
    Json j = Json::object();
    j["Request"] = request;
    return j;
  };
  auto with = [&](Json extra) {
    Json j = base;
    for (auto& [k, v] : extra.items()) j[k] = v;
    return j;
  };
  return {
      {msg::kNegotiateProtocol, with({{"MinimumVersion", 4}, {"MaximumVersion", 4}}), {}},
      {msg::kCreate, with({{"ContainerConfig", jsonText(cfg)}}), {"ContainerConfig"}},
      {msg::kStart, with({}), {}},
      {msg::kShutdownGraceful, with({}), {}},
      {msg::kShutdownForced, with({}), {}},
      {msg::kExecuteProcess,
       with({{"ContainerId", std::string(kUvmContainerId)},
             {"Settings", {{"ProcessParameters", jsonText(pp)}, {"VsockStdioRelaySettings", {{"StdIn", 0}}}}}}),
       {"Settings.ProcessParameters"}},
      {msg::kWaitForProcess, with({{"ProcessId", 424242}, {"TimeoutInMs", 10}}), {}},
      {msg::kSignalProcess, with({{"ProcessId", 424242}, {"Options", {{"Signal", 15}}}}), {}},
      {msg::kResizeConsole, with({{"ProcessId", 424242}, {"Height", 24}, {"Width", 80}}), {}},
      {msg::kGetProperties, with({{"Query", R"({"PropertyTypes":["ProcessList"]})"}}), {"Query"}},
      {msg::kModifySettings, with(modify("CombinedLayers", layers)), {}},
      {msg::kModifySettings, with(modify("MappedDirectory", share)), {}},
      {msg::kDumpStacks, with({}), {}},
      {msg::kUpdateContainer, with({{"Resources", {{"memory", {{"limit", 67108864}}}}}}), {}},
      {msg::kDeleteContainerState, with({}), {}},
  };
}

Json* at(Json& j, const std::string& path) {
  Json* cur = &j;
  size_t i = 0;
  while (i <= path.size()) {
    size_t dot = path.find('.', i);
    if (dot == std::string::npos) dot = path.size();
    std::string key = path.substr(i, dot - i);
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
    i = dot + 1;
  }
  return cur;
}

// leafPaths lists "a.b.c" paths of every value in an object tree.
void leafPaths(const Json& j, const std::string& prefix, std::vector<std::string>& out) {
  if (!j.is_object()) return;
  for (auto& [k, v] : j.items()) {
    std::string p = prefix.empty() ? k : prefix + "." + k;
    out.push_back(p);
    leafPaths(v, p, out);
  }
}

std::vector<Case> generate(const std::string& root, uint64_t seed) {
  runtime::Random rnd(seed);
  std::vector<Case> cases;
  const std::vector<Json> replacements = {nullptr, true, -1, 4294967296ll, 1.5, "", Json::array(), Json::object(),
                                          "../../../etc", "/etc", std::string(50000, 'A'), Json::array({1, "x"})};
  for (const Seed& s : seeds(root)) {
    std::string name = typeName(s.type);
    cases.push_back({name + " as sent", s.type, jsonText(s.payload), std::nullopt});
    // Mutate the outer document and every JSON-in-a-string document.
    std::vector<std::string> docs = {""};
    docs.insert(docs.end(), s.innerJsonFields.begin(), s.innerJsonFields.end());
    for (const std::string& doc : docs) {
      Json outer = s.payload;
      Json inner = doc.empty() ? outer : *parseJson(at(outer, doc)->get<std::string>());
      std::vector<std::string> paths;
      leafPaths(inner, "", paths);
      auto emit = [&](const std::string& what, const Json& mutated) {
        Json o = outer;
        if (doc.empty()) {
          o = mutated;
        } else {
          *at(o, doc) = jsonText(mutated);
        }
        cases.push_back({name + (doc.empty() ? "" : " " + doc) + ": " + what, s.type, jsonText(o), std::nullopt});
      };
      for (const auto& p : paths) {
        Json m = inner;
        size_t dot = p.rfind('.');
        Json* parent = dot == std::string::npos ? &m : at(m, p.substr(0, dot));
        parent->erase(dot == std::string::npos ? p : p.substr(dot + 1));
        emit("without " + p, m);
        for (int k = 0; k < 3; ++k) {
          Json r = inner;
          const Json& v = replacements[rnd.uniform(replacements.size())];
          *at(r, p) = v;
          emit(p + " = " + v.dump().substr(0, 20), r);
        }
      }
      if (!doc.empty()) {
        Json o = outer;
        *at(o, doc) = "{\"truncated\": ";
        cases.push_back({name + " " + doc + ": truncated inner JSON", s.type, jsonText(o), hr::kInvalidArg});
      }
    }
    std::string text = jsonText(s.payload);
    size_t cut = 1 + rnd.uniform(text.size() - 1);
    cases.push_back({name + ": truncated at byte " + std::to_string(cut), s.type, text.substr(0, cut), hr::kInvalidArg});
    cases.push_back({name + ": not an object", s.type, "[1,2,3]", hr::kInvalidArg});
    cases.push_back({name + ": invalid UTF-8", s.type, "{\"ContainerId\":\"\xff\xfe\",\"ActivityId\":\"\"}", hr::kInvalidArg});
    cases.push_back({name + ": empty payload", s.type, "", hr::kInvalidArg});
  }
  std::string deep(20000, '[');
  cases.push_back({"nesting 20000 deep", msg::kStart, "{\"x\":" + deep, hr::kInvalidArg});
  for (uint32_t t : {0x10109901u, 0x10200201u, 0x10100001u, 0x1FFFFFFFu, msg::kLifecycleNotification,
                     msg::kModifyServiceSettings}) {
    cases.push_back({"unsupported type " + typeName(t), t, R"({"ContainerId":"fz","ActivityId":""})", hr::kNotImpl});
  }
  return cases;
}

TEST_F(GcsHostileTest, GeneratedHostileRequestsEachGetOnePreciseAnswer) {
  const std::set<HResult> precise = {hr::kInvalidArg,          hr::kNotImpl,          hr::kElementNotFound,
                                     hr::kHcsSystemNotFound,   hr::kHcsSystemAlreadyExists, hr::kHcsInvalidState,
                                     hr::kVmcomputeTimeout,    hr::kAlreadyExists,    hr::kFail,
                                     hr::kVmcomputeUnsupportedProtocolVersion};
  auto cases = generate(guest_->dir(), 0x6763735f66757a7aull);
  ASSERT_GT(cases.size(), 300u);
  int failures = 0;
  for (const Case& c : cases) {
    uint64_t id = ++nextId_;
    auto f = call(c.type, id, c.payload);
    if (!f.ok()) {
      ADD_FAILURE() << c.what << ": no response: " << f.status().toString();
      if (++failures > 5) return;
      reconnect();
      continue;
    }
    EXPECT_EQ(f->header.id, id) << c.what;
    EXPECT_EQ(f->header.type, responseTypeOf(c.type)) << c.what;
    auto r = schema::decode<ResponseBase>(std::string_view(f->payload));
    ASSERT_THAT(r, IsOk()) << c.what << ": " << f->payload;
    auto got = static_cast<HResult>(r->result);
    if (c.want) {
      EXPECT_EQ(got, *c.want) << c.what << ": " << r->errorMessage;
    } else if (got != 0) {
      EXPECT_TRUE(precise.count(got)) << c.what << ": HRESULT 0x" << std::hex << got << " " << r->errorMessage;
      EXPECT_FALSE(r->errorMessage.empty()) << c.what;
    }
  }
  EXPECT_TRUE(guest_->running());
  EXPECT_TRUE(negotiates()) << "the same connection still serves";
}

TEST_F(GcsHostileTest, BrokenFramingDropsTheConnectionAndTheAgentRedials) {
  auto rawHeader = [](uint32_t type, uint32_t size, uint64_t id) {
    char h[kHeaderSize];
    encodeHeader(Header{type, size, id}, h);
    return std::string(h, kHeaderSize);
  };
  struct Attack {
    std::string what;
    std::string bytes;
    bool closeAfter;
  };
  std::vector<Attack> attacks = {
      {"size below the header", rawHeader(msg::kStart, 8, 1), false},
      {"size 0", rawHeader(msg::kStart, 0, 1), false},
      {"size just over 64 KiB", rawHeader(msg::kStart, kMaxMessageSize + 1, 1), false},
      {"size 0xFFFFFFFF", rawHeader(msg::kStart, 0xFFFFFFFFu, 1), false},
      {"half a header, then EOF", rawHeader(msg::kStart, 40, 1).substr(0, 7), true},
      {"a body cut short, then EOF", rawHeader(msg::kStart, 100, 1) + "{\"Contai", true},
  };
  for (const auto& a : attacks) {
    ASSERT_THAT(runtime::blockOn(rt_->loop(), conn_->stream().write(a.bytes)), IsOk()) << a.what;
    if (a.closeAfter) {
      (void)conn_->stream().shutdownWrite();
    }
    EXPECT_TRUE(connectionDropped()) << a.what << ": the agent gives up on a connection whose framing is lost";
    reconnect();
    EXPECT_TRUE(negotiates()) << a.what << ": the re-dialled connection serves";
  }
  // Frames of the wrong kind are ignored; the connection carries on.
  ASSERT_THAT(conn_->send(responseTypeOf(msg::kStart), 77, "{}"), IsOk());
  ASSERT_THAT(conn_->send(msg::kContainerNotification, 0, "{}"), IsOk());
  EXPECT_TRUE(negotiates());
  EXPECT_EQ(accepted_, static_cast<int>(attacks.size()) + 1);
  EXPECT_TRUE(guest_->running());
}

TEST_F(GcsHostileTest, ConcurrentRequestsAnsweredOutOfOrder) {
  // A slow WaitForProcess (the process sleeps) does not hold up later requests.
  std::string pp = jsonText(Json{{"CommandArgs", {"sleep", "0.3"}}});
  auto started = call(msg::kExecuteProcess, ++nextId_,
                      jsonText(Json{{"ContainerId", std::string(kUvmContainerId)},
                                    {"ActivityId", ""},
                                    {"Settings", {{"ProcessParameters", pp}}}}));
  ASSERT_THAT(started, IsOk());
  uint32_t pid = (*parseJson(started->payload))["ProcessId"];
  uint64_t waitId = ++nextId_;
  ASSERT_THAT(conn_->send(msg::kWaitForProcess, waitId,
                          jsonText(Json{{"ContainerId", std::string(kUvmContainerId)}, {"ActivityId", ""}, {"ProcessId", pid}})),
              IsOk());
  uint64_t stacksId = ++nextId_;
  ASSERT_THAT(conn_->send(msg::kDumpStacks, stacksId, R"({"ContainerId":"","ActivityId":""})"), IsOk());
  auto first = recv();
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->header.id, stacksId) << "the later, quick request is answered first";
  auto second = recv();
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->header.id, waitId);
  EXPECT_EQ((*parseJson(second->payload))["ExitCode"], 0);
}

}  // namespace
}  // namespace hcsshim
