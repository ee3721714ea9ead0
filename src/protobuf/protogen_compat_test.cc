// protogen's classes (namespace protogen, *.protogen.h) against protoc's over
// libprotobuf-lite 3.21 in one binary: the same values set through the same
// accessors serialize to the same bytes, and for seeded random inputs (field
// soups: known and unknown fields, wrong wire types, packed and unpacked,
// nested messages, groups, bad UTF-8, truncation) both accept or both refuse,
// and what they accept re-serializes to the same bytes.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "src/containerd/api/cgroups_metrics.pb.h"
#include "src/containerd/api/cgroups_metrics.protogen.h"
#include "src/containerd/api/events.pb.h"
#include "src/containerd/api/events.protogen.h"
#include "src/containerd/api/runhcs_options.pb.h"
#include "src/containerd/api/runhcs_options.protogen.h"
#include "src/containerd/api/task.pb.h"
#include "src/containerd/api/task.protogen.h"
#include "src/shim/shimdiag.pb.h"
#include "src/shim/shimdiag.protogen.h"
#include "src/ttrpc/ttrpc.pb.h"
#include "src/ttrpc/ttrpc.protogen.h"

namespace {

// libprotobuf with map entries in key order (protogen's only order).
std::string refBytes(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    EXPECT_TRUE(m.SerializeToCodedStream(&cos));
  }
  return out;
}

template <typename M>
void fillCreate(M& m) {
  m.set_id("task-1");
  m.set_bundle("/run/bundle/\xc3\xa9");
  auto* mnt = m.add_rootfs();
  mnt->set_type("lcow-layer");
  mnt->set_source("C:\\layers\\1");
  mnt->add_options("ro");
  mnt->add_options(std::string("parent=2"));
  m.add_rootfs()->set_type("empty");
  m.set_terminal(true);
  m.set_stdin("npipe:////./pipe/in");
  m.set_stdout("out");
  m.set_stderr("err");
  m.mutable_options()->set_type_url("containerd.runhcs.v1.Options");
  m.mutable_options()->set_value(std::string("\x08\x01\x00", 3));
}

template <typename M>
void fillOptions(M& m) {
  m.set_debug(true);
  m.set_debug_type(M::ETW);
  m.set_sandbox_isolation(M::HYPERVISOR);
  m.set_vm_processor_count(-3);
  m.set_vm_memory_size_in_mb(2048);
  m.set_gpuvhdpath("gpu.vhdx");
  (*m.mutable_default_container_annotations())["b"] = "2";
  (*m.mutable_default_container_annotations())["a"] = "";
  (*m.mutable_default_container_annotations())[""] = "empty key";
}

template <typename M>
void fillMetrics(M& m) {
  m.mutable_pids()->set_current(7);
  m.mutable_cpu()->mutable_usage()->set_total(~uint64_t{0});
  m.mutable_cpu()->mutable_usage()->add_per_cpu(0);
  m.mutable_cpu()->mutable_usage()->add_per_cpu(300);
  m.mutable_memory()->mutable_usage()->set_limit(1);  // field 33: a two-byte tag
}

template <typename M>
void fillState(M& m) {
  m.set_id("x");
  m.set_pid(42);
  m.set_status(static_cast<decltype(m.status())>(3));
  m.set_exit_status(137);
  m.mutable_exited_at()->set_seconds(-1);
  m.mutable_exited_at()->set_nanos(999999999);
}

template <typename M>
void fillTtrpcResponse(M& m) {
  m.mutable_status()->set_code(5);
  m.mutable_status()->set_message("not found");
  auto* d = m.mutable_status()->add_details();
  d->set_type_url("hcsshim.ttrpc.ErrorDetail");
  d->set_value("\x08\x01");
  m.set_payload("");
}

TEST(ProtogenCompatTest, TheSameValuesSerializeToTheSameBytes) {
  {
    containerd::task::v2::CreateTaskRequest a;
    protogen::containerd::task::v2::CreateTaskRequest b;
    fillCreate(a);
    fillCreate(b);
    EXPECT_EQ(refBytes(a), b.SerializeAsString());
    EXPECT_EQ(b.rootfs(0).options(1), "parent=2");
  }
  {
    containerd::runhcs::v1::Options a;
    protogen::containerd::runhcs::v1::Options b;
    fillOptions(a);
    fillOptions(b);
    EXPECT_EQ(refBytes(a), b.SerializeAsString());
  }
  {
    io::containerd::cgroups::v1::Metrics a;
    protogen::io::containerd::cgroups::v1::Metrics b;
    fillMetrics(a);
    fillMetrics(b);
    EXPECT_EQ(refBytes(a), b.SerializeAsString());
  }
  {
    containerd::task::v2::StateResponse a;
    protogen::containerd::task::v2::StateResponse b;
    fillState(a);
    fillState(b);
    EXPECT_EQ(refBytes(a), b.SerializeAsString());
  }
  {
    hcsshim::ttrpc::Response a;
    protogen::hcsshim::ttrpc::Response b;
    fillTtrpcResponse(a);
    fillTtrpcResponse(b);
    EXPECT_EQ(refBytes(a), b.SerializeAsString());
  }
}

TEST(ProtogenCompatTest, ProtogenParsesWhatLibprotobufWrites) {
  containerd::task::v2::CreateTaskRequest a;
  fillCreate(a);
  protogen::containerd::task::v2::CreateTaskRequest b;
  ASSERT_TRUE(b.ParseFromString(a.SerializeAsString()));
  EXPECT_EQ(b.id(), "task-1");
  ASSERT_EQ(b.rootfs_size(), 2);
  EXPECT_EQ(b.rootfs(0).options_size(), 2);
  EXPECT_EQ(b.options().value(), std::string("\x08\x01\x00", 3));
  EXPECT_EQ(b.GetTypeName(), a.GetTypeName());
  protogen::containerd::runhcs::v1::Options o;
  containerd::runhcs::v1::Options ro;
  fillOptions(ro);
  ASSERT_TRUE(o.ParseFromString(ro.SerializeAsString()));
  EXPECT_EQ(o.default_container_annotations().at(""), "empty key");
  EXPECT_EQ(o.vm_processor_count(), -3);
  EXPECT_EQ(o.debug_type(), protogen::containerd::runhcs::v1::Options::ETW);
}

TEST(ProtogenCompatTest, MergeAppendsRepeatedAndMergesMessagesAsLibprotobufDoes) {
  containerd::task::v2::CreateTaskRequest a1, a2;
  protogen::containerd::task::v2::CreateTaskRequest b1, b2;
  fillCreate(a1);
  fillCreate(b1);
  a2.set_id("other");
  a2.mutable_options()->set_type_url("t2");
  a2.add_rootfs()->set_target("/t");
  b2.set_id("other");
  b2.mutable_options()->set_type_url("t2");
  b2.add_rootfs()->set_target("/t");
  a1.MergeFrom(a2);
  b1.MergeFrom(b2);
  EXPECT_EQ(refBytes(a1), b1.SerializeAsString());
  auto copy = b1;
  b1.Clear();
  EXPECT_EQ(b1.SerializeAsString(), "");
  EXPECT_EQ(copy.rootfs_size(), 3);
}

// Random inputs shaped like messages.
class Soup {
 public:
  explicit Soup(uint32_t seed) : rng_(seed) {}

  std::string message(int depth) {
    std::string out;
    int fields = pick(0, 6);
    for (int i = 0; i < fields; ++i) field(&out, depth);
    if (pick(0, 30) == 0 && !out.empty()) out.resize(pick(0, static_cast<int>(out.size()) - 1));  // truncated
    if (pick(0, 30) == 0 && !out.empty()) out[pick(0, static_cast<int>(out.size()) - 1)] ^= static_cast<char>(1 << pick(0, 7));
    return out;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void varint(std::string* out, uint64_t v) {
    while (v >= 0x80) {
      out->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  }
  uint64_t number() {
    switch (pick(0, 4)) {
      case 0: return 0;
      case 1: return static_cast<uint64_t>(pick(1, 300));
      case 2: return ~uint64_t{0} - static_cast<uint64_t>(pick(0, 5));  // negative int32/int64
      case 3: return uint64_t{1} << pick(31, 40);
      default: return std::uniform_int_distribution<uint64_t>()(rng_);
    }
  }
  std::string text() {
    static const char* kPieces[] = {"a", "id", "\xc3\xa9", "\xf0\x9f\x90\xb3", "\xff", "\xc0\xaf", "\xed\xa0\x80", "", "/run/x"};
    std::string s;
    int n = pick(0, 4);
    for (int i = 0; i < n; ++i) s += kPieces[pick(0, pick(0, 20) == 0 ? 8 : 3)];
    if (pick(0, 40) == 0) s += kPieces[pick(4, 6)];
    return s;
  }
  void field(std::string* out, int depth) {
    uint32_t f = pick(0, 20) == 0 ? static_cast<uint32_t>(pick(11, 40)) : static_cast<uint32_t>(pick(1, 11));
    if (pick(0, 200) == 0) f = (1u << 29) - 1;
    int wt = pick(0, 12);
    if (wt > 5) wt = pick(0, 1) ? 0 : 2;  // mostly varint and length
    if (pick(0, 300) == 0) wt = 6 + pick(0, 1);  // invalid wire type
    varint(out, (uint64_t{f} << 3) | static_cast<uint32_t>(wt));
    switch (wt) {
      case 0: varint(out, number()); break;
      case 1: out->append(8, static_cast<char>(pick(0, 255))); break;
      case 5: out->append(4, static_cast<char>(pick(0, 255))); break;
      case 2: {
        std::string body;
        int kind = pick(0, 3);
        if (kind == 0 && depth < 6) {
          body = message(depth + 1);
        } else if (kind == 1) {
          int n = pick(0, 4);
          for (int i = 0; i < n; ++i) varint(&body, number());
        } else {
          body = text();
        }
        varint(out, body.size());
        *out += body;
        break;
      }
      case 3:
        if (depth < 6) *out += message(depth + 1);
        if (pick(0, 10) != 0) varint(out, (uint64_t{pick(0, 8) == 0 ? f + 1 : f} << 3) | 4);
        break;
      default: break;
    }
  }

  std::mt19937 rng_;
};

template <typename Ref, typename Own>
void compareOnSoup(uint32_t seed, int count, int* accepted) {
  Soup soup(seed);
  for (int i = 0; i < count; ++i) {
    std::string in = soup.message(0);
    Ref ref;
    Own own;
    bool a = ref.ParseFromString(in);
    bool b = own.ParseFromString(in);
    ASSERT_EQ(a, b) << ref.GetTypeName() << " seed " << seed << " input " << i << " bytes "
                    << testing::PrintToString(in);
    if (!a) continue;
    ++*accepted;
    ASSERT_EQ(refBytes(ref), own.SerializeAsString())
        << ref.GetTypeName() << " seed " << seed << " input " << i << " bytes " << testing::PrintToString(in);
  }
}

TEST(ProtogenCompatTest, RandomInputsAreAcceptedRefusedAndReserializedAlike) {
  int accepted = 0;
  compareOnSoup<containerd::task::v2::CreateTaskRequest, protogen::containerd::task::v2::CreateTaskRequest>(1, 4000, &accepted);
  compareOnSoup<containerd::task::v2::StateResponse, protogen::containerd::task::v2::StateResponse>(2, 4000, &accepted);
  compareOnSoup<containerd::runhcs::v1::Options, protogen::containerd::runhcs::v1::Options>(3, 4000, &accepted);
  compareOnSoup<io::containerd::cgroups::v1::CPUUsage, protogen::io::containerd::cgroups::v1::CPUUsage>(4, 4000, &accepted);
  compareOnSoup<io::containerd::cgroups::v1::Metrics, protogen::io::containerd::cgroups::v1::Metrics>(5, 4000, &accepted);
  compareOnSoup<hcsshim::ttrpc::Request, protogen::hcsshim::ttrpc::Request>(6, 4000, &accepted);
  compareOnSoup<hcsshim::ttrpc::Response, protogen::hcsshim::ttrpc::Response>(7, 4000, &accepted);
  compareOnSoup<containerd::events::TaskCreate, protogen::containerd::events::TaskCreate>(8, 4000, &accepted);
  compareOnSoup<hcsshim::shimdiag::v1::TasksResponse, protogen::hcsshim::shimdiag::v1::TasksResponse>(9, 4000, &accepted);
  // The soups must exercise acceptance, not only refusals.
  EXPECT_GT(accepted, 9000);
}

TEST(ProtogenCompatTest, DeeplyNestedGroupsAreRefusedAlike) {
  for (int depth : {50, 98, 99, 100, 101, 150}) {
    std::string in;
    for (int i = 0; i < depth; ++i) in += "\x5b";  // start group, field 11
    for (int i = 0; i < depth; ++i) in += "\x5c";
    containerd::task::v2::CreateTaskRequest a;
    protogen::containerd::task::v2::CreateTaskRequest b;
    EXPECT_EQ(a.ParseFromString(in), b.ParseFromString(in)) << "depth " << depth;
  }
}

}  // namespace
