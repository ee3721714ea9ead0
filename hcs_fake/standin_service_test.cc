// The stand-in service over real loopback TCP: the hello and its token,
// HCS calls and their result documents, notifications of watched handles
// only, handles per connection, HNS calls, and bad input.
#include "hcs_fake/standin_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/json.h"
#include "src/common/status_matchers.h"
#include "src/runtime/buffered_stream.h"
#include "src/runtime/real_runtime.h"
#include "src/runtime/wait_for.h"

namespace hcsshim::hcs_fake {
namespace {

using ::hcsshim::testing::IsOk;
using runtime::Task;
namespace hr = hresult;

constexpr char kToken[] = "0123456789abcdef-token";

class StandinServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("standin-test"));
    hcs_ = std::make_unique<FakeHcsService>(*rt_);
    hns_ = std::make_unique<FakeHns>(FakeHnsOptions{});
    service_ = std::make_unique<StandinService>(*rt_, *hcs_, *hns_, kToken);
    auto l = rt_->transport().listen("tcp://127.0.0.1:0");
    ASSERT_THAT(l, IsOk());
    address_ = (*l)->address();
    runtime::spawn(service_->serve(std::move(*l)));
  }
  void TearDown() override {
    service_->shutdown();
    rt_->loop().runUntil([&] { return service_->connectionCount() == 0; });
    runtime::blockOn(rt_->loop(), hcs_->shutdownService());
  }

  // Client: one connection, a line at a time.
  struct Client {
    std::unique_ptr<runtime::BufferedStream> io;
    uint64_t seq = 0;
    std::vector<Json> events;
  };
  std::unique_ptr<Client> connect(const std::string& token = kToken, bool expectOk = true) {
    auto s = runtime::blockOn(rt_->loop(), rt_->transport().connect(address_));
    EXPECT_THAT(s, IsOk());
    auto c = std::make_unique<Client>();
    c->io = std::make_unique<runtime::BufferedStream>(std::move(*s));
    send(*c, Json{{"hello", "hcs-standin/1"}, {"token", token}}.dump());
    Json hello = next(*c);
    EXPECT_EQ(hello.value("hresult", 1u) == 0, expectOk) << hello.dump();
    return c;
  }
  void send(Client& c, const std::string& line) { ASSERT_THAT(c.io->send(line + "\n", ""), IsOk()); }
  // next: the next line that is not an event (events are kept); a null Json at EOF.
  Json next(Client& c) {
    for (;;) {
      std::string line;
      bool eof = false;
      runtime::blockOn(rt_->loop(), [](runtime::BufferedStream& io, std::string& out, bool& eof) -> Task<void> {
        for (;;) {
          if (const void* nl = io.unread() ? std::memchr(io.data(), '\n', io.unread()) : nullptr) {
            size_t n = static_cast<const char*>(nl) - io.data();
            out.assign(io.data(), n);
            io.consume(n + 1);
            co_return;
          }
          if (!(co_await io.fill(io.unread() + 1)).ok()) {
            eof = true;
            co_return;
          }
        }
      }(*c.io, line, eof));
      if (eof) return Json();
      Json j = *parseJson(line);
      if (j.contains("event")) {
        c.events.push_back(j["event"]);
        continue;
      }
      return j;
    }
  }
  Json call(Client& c, Json req) {
    req["seq"] = ++c.seq;
    send(c, req.dump());
    Json r = next(c);
    EXPECT_EQ(r.value("seq", 0u), c.seq) << r.dump();
    return r;
  }
  static uint32_t hresultOf(const Json& r) { return r.is_object() ? r.value("hresult", 0xffffffffu) : 0xffffffffu; }

  std::string containerDoc() {
    return Json{{"Owner", "standin"}, {"SchemaVersion", {{"Major", 2}, {"Minor", 1}}}, {"Container", Json::object()}}.dump();
  }

  std::unique_ptr<runtime::RealRuntime> rt_;
  std::unique_ptr<FakeHcsService> hcs_;
  std::unique_ptr<FakeHns> hns_;
  std::unique_ptr<StandinService> service_;
  std::string address_;
};

TEST_F(StandinServiceTest, AWrongTokenIsRefusedAndTheConnectionEnds) {
  auto c = connect("not-the-token-at-all", /*expectOk=*/false);
  EXPECT_TRUE(next(*c).is_null()) << "the service hung up";
  auto d = connect(std::string(kToken) + "x", /*expectOk=*/false);
  EXPECT_TRUE(next(*d).is_null());
}

TEST_F(StandinServiceTest, ALifecycleWithResultDocumentsAndNotifications) {
  auto c = connect();
  Json r = call(*c, {{"call", "create"}, {"id", "c1"}, {"document", containerDoc()}});
  ASSERT_EQ(hresultOf(r), 0u) << r.dump();
  uint64_t h = r["handle"].get<uint64_t>();
  EXPECT_EQ(hresultOf(call(*c, {{"call", "watch"}, {"handle", h}})), 0u);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "start"}, {"handle", h}, {"document", ""}})), 0u);
  r = call(*c, {{"call", "properties"}, {"handle", h}, {"document", ""}});
  ASSERT_EQ(hresultOf(r), 0u);
  EXPECT_EQ((*parseJson(r["document"].get<std::string>()))["State"], "Running");
  // Creating it again: the error HCS gives, with its result document.
  r = call(*c, {{"call", "create"}, {"id", "c1"}, {"document", containerDoc()}});
  EXPECT_EQ(hresultOf(r), hr::kHcsSystemAlreadyExists) << r.dump();
  EXPECT_THAT(r.value("document", ""), ::testing::HasSubstr("\"Error\""));
  EXPECT_EQ(hresultOf(call(*c, {{"call", "terminate"}, {"handle", h}, {"document", ""}})), 0u);
  ASSERT_TRUE(runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] {
    // (events arrive between answers: ask for something to read them)
    (void)call(*c, {{"call", "enumerate"}, {"document", ""}});
    return !c->events.empty();
  }, std::chrono::seconds(10))));
  EXPECT_EQ(c->events[0]["handle"], h);
  EXPECT_EQ(c->events[0]["type"], static_cast<uint32_t>(hcs::EventType::kSystemExited));
  EXPECT_THAT(c->events[0]["data"].get<std::string>(), ::testing::HasSubstr("ForcedExit"));
  EXPECT_EQ(hresultOf(call(*c, {{"call", "close"}, {"handle", h}})), 0u);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "properties"}, {"handle", h}, {"document", ""}})), hr::kInvalidHandle)
      << "closed";
}

TEST_F(StandinServiceTest, HandlesBelongToTheirConnectionAndCloseWithIt) {
  auto a = connect();
  auto b = connect();
  Json r = call(*a, {{"call", "create"}, {"id", "mine"}, {"document", containerDoc()}});
  ASSERT_EQ(hresultOf(r), 0u);
  uint64_t h = r["handle"].get<uint64_t>();
  EXPECT_EQ(hresultOf(call(*b, {{"call", "start"}, {"handle", h}, {"document", ""}})), hr::kInvalidHandle)
      << "another connection's handle number means nothing here";
  a.reset();  // the client dies
  ASSERT_TRUE(runtime::blockOn(rt_->loop(), runtime::waitFor(rt_->loop(), [&] {
    return service_->connectionCount() == 1;
  }, std::chrono::seconds(10))));
  r = call(*b, {{"call", "open"}, {"id", "mine"}});
  EXPECT_EQ(hresultOf(r), 0u) << "the system outlives its creator's handle (no ShouldTerminateOnLastHandleClosed)";
}

TEST_F(StandinServiceTest, HcnCallsReachTheFakeHns) {
  auto c = connect();
  std::string net = Json{{"Name", "nat"}, {"Type", "NAT"}, {"SchemaVersion", {{"Major", 2}, {"Minor", 0}}},
                         {"Ipams", {{{"Type", "Static"}, {"Subnets", {{{"IpAddressPrefix", "10.99.0.0/24"}}}}}}}}.dump();
  Json r = call(*c, {{"call", "hcn.create"}, {"object", 0}, {"id", ""}, {"document", net}});
  ASSERT_EQ(hresultOf(r), 0u) << r.dump();
  std::string id = (*parseJson(r["document"].get<std::string>()))["ID"].get<std::string>();
  r = call(*c, {{"call", "hcn.enumerate"}, {"object", 0}, {"document", ""}});
  EXPECT_THAT(r.value("document", ""), ::testing::HasSubstr(id));
  EXPECT_EQ(hresultOf(call(*c, {{"call", "hcn.delete"}, {"object", 0}, {"id", id}})), 0u);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "hcn.query"}, {"object", 0}, {"id", id}, {"document", ""}})),
            hr::kElementNotFound);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "hcn.query"}, {"object", 99}, {"id", id}})), hr::kInvalidArg);
}

TEST_F(StandinServiceTest, BadRequestsGetPreciseErrorsAndTheConnectionGoesOn) {
  auto c = connect();
  EXPECT_EQ(hresultOf(call(*c, {{"call", "frobnicate"}})), hr::kNotImpl);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "start"}})), hr::kInvalidArg) << "no handle";
  EXPECT_EQ(hresultOf(call(*c, {{"call", "start"}, {"handle", "7"}})), hr::kInvalidArg) << "a handle of the wrong type";
  EXPECT_EQ(hresultOf(call(*c, {{"call", "start"}, {"handle", 12345}})), hr::kInvalidHandle);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "create"}, {"id", 5}})), hr::kInvalidArg);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "create"}, {"id", "x"}, {"document", "{not json"}})), hr::kHcsInvalidJson);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "openProcess"}, {"handle", 1}, {"pid", -1}})), hr::kInvalidArg);
  EXPECT_EQ(hresultOf(call(*c, {{"call", "enumerate"}, {"document", ""}})), 0u) << "still serving";
}

TEST_F(StandinServiceTest, AProcesssStdioPipesAreLoopbackPortsThatWantTheToken) {
  auto c = connect();
  Json r = call(*c, {{"call", "create"}, {"id", "p"}, {"document", containerDoc()}});
  ASSERT_EQ(hresultOf(r), 0u);
  uint64_t sys = r["handle"];
  ASSERT_EQ(hresultOf(call(*c, {{"call", "start"}, {"handle", sys}, {"document", ""}})), 0u);
  Json params = {{"CommandArgs", {"sh", "-c", "cat; echo done; echo oops >&2"}},
                 {"CreateStdInPipe", true}, {"CreateStdOutPipe", true}, {"CreateStdErrPipe", true}};
  r = call(*c, {{"call", "createProcess"}, {"handle", sys}, {"document", params.dump()}});
  ASSERT_EQ(hresultOf(r), 0u) << r.dump();
  ASSERT_TRUE(r.contains("stdio")) << r.dump();
  auto port = [&](const char* name) { return "tcp://127.0.0.1:" + std::to_string(r["stdio"][name].get<uint64_t>()); };
  auto open = [&](const char* name, const std::string& token) {
    auto s = runtime::blockOn(rt_->loop(), rt_->transport().connect(port(name)));
    EXPECT_THAT(s, IsOk());
    EXPECT_THAT(runtime::blockOn(rt_->loop(), (*s)->write(token + "\n")), IsOk());
    return std::move(*s);
  };
  // A connection without the token gets nothing and is closed; the port is
  // then gone (one connection each).
  auto stranger = open("err", "not-the-token");
  auto nothing = runtime::blockOn(rt_->loop(), runtime::readToEnd(*stranger));
  ASSERT_THAT(nothing, IsOk());
  EXPECT_EQ(*nothing, "");
  auto in = open("in", kToken);
  auto out = open("out", kToken);
  ASSERT_THAT(runtime::blockOn(rt_->loop(), in->write("through the stand-in\n")), IsOk());
  in->close();  // the process's stdin ends
  auto text = runtime::blockOn(rt_->loop(), runtime::readToEnd(*out));
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(*text, "through the stand-in\ndone\n");
  EXPECT_EQ(hresultOf(call(*c, {{"call", "enumerate"}, {"document", ""}})), 0u) << "still serving";
}

TEST_F(StandinServiceTest, ALineThatIsNotJsonEndsTheConnectionWithAnError) {
  auto c = connect();
  send(*c, "this is not json");
  Json r = next(*c);
  EXPECT_EQ(hresultOf(r), hr::kInvalidArg) << r.dump();
  EXPECT_TRUE(next(*c).is_null());
  auto d = connect();
  send(*d, "[1,2,3]");
  EXPECT_EQ(hresultOf(next(*d)), hr::kInvalidArg) << "an array is not a request";
  auto e = connect();
  send(*e, "{\"seq\":1,\"call\":\"enumerate\",\"document\":\"" + std::string(StandinService::kMaxLine, 'a'));
  EXPECT_EQ(hresultOf(next(*e)), hr::kInvalidArg) << "oversize";
  EXPECT_TRUE(next(*e).is_null());
  // The service serves on.
  auto f = connect();
  EXPECT_EQ(hresultOf(call(*f, {{"call", "enumerate"}, {"document", ""}})), 0u);
}

}  // namespace
}  // namespace hcsshim::hcs_fake
