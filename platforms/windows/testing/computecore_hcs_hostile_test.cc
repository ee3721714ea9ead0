// ComputeCoreHcs against a hostile computecore.dll (hostile_computecore.cc),
// under Wine: precise errors, no crash, no hang, no callback after close.
#include <gtest/gtest.h>

#include <atomic>

#include "platforms/windows/computecore_hcs.h"
#include "src/runtime/threaded_loop.h"

namespace hcsshim::platforms::windows {
namespace {

class HostileHcsTest : public ::testing::Test {
 protected:
  template <typename T>
  T run(runtime::Task<T> t) {
    return runtime::blockOn(loop_, std::move(t));
  }
  runtime::ThreadedEventLoop loop_;
  ComputeCoreHcs hcs_{loop_};
};

TEST_F(HostileHcsTest, AResultDocumentThatIsNotJsonIsTheMessage) {
  auto r = run(hcs_.enumerateComputeSystems("not-json"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().hresult(), 0x80370105u);
  EXPECT_NE(r.status().message().find("{\"Error\": oops"), std::string::npos) << r.status().toString();
}

TEST_F(HostileHcsTest, AnUnknownHresultIsKeptAndSaidToBeAFailure) {
  auto r = run(hcs_.enumerateComputeSystems("unknown-hresult"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().hresult(), 0x8BADF00Du);
  EXPECT_NE(r.status().toString().find("0x8BADF00D"), std::string::npos) << r.status().toString();
}

TEST_F(HostileHcsTest, ADocumentThatIsNotUtf16IsNamedNotPassedOn) {
  auto r = run(hcs_.enumerateComputeSystems("not-utf16"));
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_NE(r->find("not UTF-16"), std::string::npos) << *r;
}

TEST_F(HostileHcsTest, ASuccessWhoseDocumentSaysFailedIsNotAFailure) {
  // (HCS's HRESULT decides; the document of a success is its result.)
  auto r = run(hcs_.enumerateComputeSystems("success-with-error"));
  EXPECT_TRUE(r.ok()) << r.status().toString();
}

TEST_F(HostileHcsTest, AMissingExportFailsOnlyTheCallThatNeedsIt) {
  auto h = run(hcs_.openComputeSystem("x"));
  ASSERT_TRUE(h.ok()) << h.status().toString();
  Status st = run(hcs_.startComputeSystem(*h, ""));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("computecore.dll has no export HcsStartComputeSystem"), std::string::npos) << st.toString();
  EXPECT_TRUE(run(hcs_.enumerateComputeSystems("")).ok()) << "the rest still works";
  hcs_.closeComputeSystem(*h);
}

TEST_F(HostileHcsTest, ACallbackAfterCloseIsDropped) {
  auto h = run(hcs_.openComputeSystem("x"));
  ASSERT_TRUE(h.ok());
  std::atomic<int> delivered{0};
  ASSERT_TRUE(hcs_.setComputeSystemCallback(*h, [&](hcs::Event) { delivered++; }).ok());
  hcs_.closeComputeSystem(*h);  // the DLL calls back 20 ms later
  bool waited = false;
  loop_.addTimer(std::chrono::milliseconds(300), [&] { waited = true; });
  loop_.runUntil([&] { return waited; });
  EXPECT_EQ(delivered.load(), 0);
}

}  // namespace
}  // namespace hcsshim::platforms::windows
