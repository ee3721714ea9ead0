// The process state machine: every operation in every state.
#include "src/shim/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/common/status_matchers.h"

namespace hcsshim::shim {
namespace {

using ::hcsshim::testing::IsOk;
using ::hcsshim::testing::StatusIs;
using S = ProcessState;
using O = ProcessOp;

// The whole table: what containerd may do in each state. OK, or the code of
// the error (FailedPrecondition: not in this state; NotFound: gone).
TEST(ProcessStateTest, EveryOperationInEveryState) {
  const Code ok = Code::kOk, pre = Code::kFailedPrecondition, gone = Code::kNotFound;
  struct Row {
    S state;
    std::map<O, Code> want;
  };
  std::vector<Row> table = {
      {S::kCreated, {{O::kStart, ok}, {O::kKill, pre}, {O::kPause, pre}, {O::kResume, pre}, {O::kExec, ok},
                     {O::kResize, pre}, {O::kCloseIo, ok}, {O::kInspect, pre}, {O::kDelete, ok}}},
      {S::kRunning, {{O::kStart, pre}, {O::kKill, ok}, {O::kPause, ok}, {O::kResume, pre}, {O::kExec, ok},
                     {O::kResize, ok}, {O::kCloseIo, ok}, {O::kInspect, ok}, {O::kDelete, pre}}},
      {S::kPaused, {{O::kStart, pre}, {O::kKill, ok}, {O::kPause, pre}, {O::kResume, ok}, {O::kExec, pre},
                    {O::kResize, ok}, {O::kCloseIo, ok}, {O::kInspect, ok}, {O::kDelete, pre}}},
      {S::kStopped, {{O::kStart, pre}, {O::kKill, gone}, {O::kPause, pre}, {O::kResume, pre}, {O::kExec, pre},
                     {O::kResize, pre}, {O::kCloseIo, ok}, {O::kInspect, pre}, {O::kDelete, ok}}},
      {S::kDeleted, {{O::kStart, gone}, {O::kKill, gone}, {O::kPause, gone}, {O::kResume, gone}, {O::kExec, gone},
                     {O::kResize, gone}, {O::kCloseIo, gone}, {O::kInspect, gone}, {O::kDelete, gone}}},
  };
  for (const auto& row : table) {
    for (const auto& [op, code] : row.want) {
      Status st = checkOp(row.state, op, "t1/e1");
      EXPECT_EQ(st.code(), code) << stateName(row.state) << " " << opName(op) << ": " << st.toString();
      if (!st.ok()) {
        EXPECT_THAT(st.message(), ::testing::HasSubstr("t1/e1")) << "the error names the process";
      }
    }
  }
}

TEST(ProcessStateTest, TransitionsFollowTheDiagram) {
  ProcessStateMachine p;
  EXPECT_EQ(p.state(), S::kCreated);
  EXPECT_THAT(p.paused("t"), StatusIs(Code::kFailedPrecondition));
  ASSERT_THAT(p.started("t"), IsOk());
  EXPECT_THAT(p.started("t"), StatusIs(Code::kFailedPrecondition, "already started"));
  ASSERT_THAT(p.paused("t"), IsOk());
  EXPECT_THAT(p.paused("t"), StatusIs(Code::kFailedPrecondition, "already paused"));
  EXPECT_THAT(p.deleted("t"), StatusIs(Code::kFailedPrecondition, "still running"));
  ASSERT_THAT(p.resumed("t"), IsOk());
  EXPECT_EQ(p.state(), S::kRunning);
  EXPECT_TRUE(p.markExited());
  EXPECT_FALSE(p.markExited()) << "a process exits once";
  EXPECT_EQ(p.state(), S::kStopped);
  EXPECT_THAT(p.resumed("t"), StatusIs(Code::kFailedPrecondition));
  ASSERT_THAT(p.deleted("t"), IsOk());
  EXPECT_THAT(p.deleted("t"), StatusIs(Code::kNotFound));
  EXPECT_FALSE(p.markExited()) << "no exit after delete";
}

TEST(ProcessStateTest, APausedProcessCanExit) {
  ProcessStateMachine p;
  ASSERT_THAT(p.started("t"), IsOk());
  ASSERT_THAT(p.paused("t"), IsOk());
  EXPECT_TRUE(p.markExited());
  EXPECT_EQ(p.state(), S::kStopped);
}

TEST(ProcessStateTest, ACreatedProcessCanBeDeletedButNeverExits) {
  ProcessStateMachine p;
  EXPECT_FALSE(p.markExited());
  ASSERT_THAT(p.deleted("t"), IsOk());
  EXPECT_THAT(p.started("t"), StatusIs(Code::kNotFound));
}

}  // namespace
}  // namespace hcsshim::shim
