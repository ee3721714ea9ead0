// The qemu backend's pure parts: the QEMU command line a VM document
// becomes (and the documents it refuses), the kernel command line for a
// virtio guest, the 9P attach-name rewrite, and the QMP client against a
// scripted QMP server on a real unix socket.
#include "hcs_fake/qemu/qemu_backend.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hcs_fake/qemu/plan9.h"
#include "hcs_fake/qemu/qmp.h"
#include "src/common/status_matchers.h"
#include "src/runtime/real_runtime.h"

namespace hcsshim::hcs_fake {
namespace {

using ::hcsshim::testing::HResultIs;
using ::testing::Contains;
using ::testing::HasSubstr;
namespace hr = hresult;

schema::VirtualMachine document(const std::string& json) {
  auto doc = schema::decode<schema::VirtualMachine>(std::string_view(json));
  EXPECT_TRUE(doc.ok()) << doc.status().toString();
  return *doc;
}

const QemuMachine kMachine{.id = "vm1", .dir = "/tmp/q/abc", .hybridSocket = "/tmp/v/x.sock", .accel = "tcg"};
const char* kGuid0 = "df6d0690-79e5-55b6-a5ec-c1e2f77f580a";
const char* kGuid2 = "b5d2d8d4-3a75-51bf-945b-3444dc6b8579";

TEST(QemuCommandLineTest, DocumentBecomesQemuArguments) {
  auto doc = document(std::string(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/boot/vmlinux",
      "InitRdPath":"/boot/initrd.img","KernelCmdLine":"panic=-1 quiet pci=off nr_cpus=2 -- -e 1 /bin/gcs"}},
      "ComputeTopology":{"Memory":{"SizeInMB":768},"Processor":{"Count":2}},
      "Devices":{"Scsi":{")") + kGuid0 + R"(":{"Attachments":{}},")" + kGuid2 + R"(":{"Attachments":{}}}}})");
  auto argv = qemuCommandLine(kMachine, doc, "qemu-system-x86_64");
  ASSERT_TRUE(argv.ok()) << argv.status().toString();
  std::string all;
  for (const auto& a : *argv) all += a + "\n";
  EXPECT_EQ(argv->front(), "qemu-system-x86_64");
  EXPECT_THAT(all, HasSubstr("-m\n768M,slots=7,maxmem=66304M\n"));  // slots for hot-added VPMem
  EXPECT_THAT(all, HasSubstr("-smp\n2\n"));
  EXPECT_THAT(all, HasSubstr("pc,accel=tcg,memory-backend=mem0"));
  EXPECT_THAT(all, HasSubstr("memory-backend-memfd,id=mem0,size=768M,share=on"));  // vhost-user maps guest RAM
  EXPECT_THAT(all, HasSubstr("-kernel\n/boot/vmlinux\n"));
  EXPECT_THAT(all, HasSubstr("-initrd\n/boot/initrd.img\n"));
  EXPECT_THAT(all, HasSubstr("-append\n" + std::string(kQemuKernelOptions) + " panic=-1 quiet nr_cpus=2 -- -e 1 /bin/gcs\n"));
  EXPECT_THAT(all, HasSubstr("socket,id=vsock0,path=/tmp/q/abc/vhost.sock"));
  EXPECT_THAT(all, HasSubstr("vhost-user-vsock-pci,chardev=vsock0"));
  EXPECT_THAT(all, HasSubstr("unix:/tmp/q/abc/qmp.sock,server=on,wait=off"));
  // Controllers keep HCS's numbering: the GUID's index picks the PCI slot.
  EXPECT_THAT(*argv, Contains("virtio-scsi-pci,id=scsi0,addr=0x10"));
  EXPECT_THAT(*argv, Contains("virtio-scsi-pci,id=scsi2,addr=0x12"));
  EXPECT_THAT(*argv, Contains("-no-reboot"));  // a guest reset (panic=-1) ends QEMU: an exit, not a reboot
}

TEST(QemuCommandLineTest, InitialScsiAttachmentsAreDisksAtTheirLun) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR"));
  std::ofstream(dir + "/d.vhd") << std::string(4096, 'x');
  auto doc = document(std::string(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},
      "ComputeTopology":{"Memory":{"SizeInMB":256}},"Devices":{"Scsi":{")") + kGuid0 +
                      R"(":{"Attachments":{"3":{"Type":"VirtualDisk","Path":")" + dir + R"(/d.vhd","ReadOnly":true}}}}}})");
  auto argv = qemuCommandLine(kMachine, doc, "qemu");
  ASSERT_TRUE(argv.ok()) << argv.status().toString();
  EXPECT_THAT(*argv, Contains("scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=3,drive=scsi0-3"));
  // A fixed VHD is raw data and a 512-byte footer.
  EXPECT_THAT(*argv, Contains("driver=raw,node-name=scsi0-3,read-only=on,file.driver=file,file.filename=" + dir +
                              "/d.vhd,size=3584"));
}

TEST(QemuCommandLineTest, RefusesWhatItCannotHonourNamingTheField) {
  auto noKernel = qemuCommandLine(kMachine, document(R"({"ComputeTopology":{"Memory":{"SizeInMB":256}}})"), "qemu");
  EXPECT_THAT(noKernel, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(noKernel.status().message(), HasSubstr("VirtualMachine.Chipset.LinuxKernelDirect"));
  auto tiny = qemuCommandLine(
      kMachine, document(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},"ComputeTopology":{"Memory":{"SizeInMB":16}}})"),
      "qemu");
  EXPECT_THAT(tiny, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(tiny.status().message(), HasSubstr("Memory.SizeInMB"));
  auto cpus = qemuCommandLine(kMachine, document(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},
      "ComputeTopology":{"Memory":{"SizeInMB":256},"Processor":{"Count":65}}})"), "qemu");
  EXPECT_THAT(cpus.status().message(), HasSubstr("Processor.Count"));
  auto noDisk = qemuCommandLine(kMachine, document(std::string(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},
      "ComputeTopology":{"Memory":{"SizeInMB":256}},"Devices":{"Scsi":{")") + kGuid0 +
      R"(":{"Attachments":{"0":{"Type":"VirtualDisk","Path":"/no/such.vhd"}}}}}})"), "qemu");
  EXPECT_THAT(noDisk, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(noDisk.status().message(), HasSubstr("Attachments.0.Path"));
  auto pmemDoc = [](const std::string& devices) {
    return document(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},
      "ComputeTopology":{"Memory":{"SizeInMB":256}},"Devices":{"VirtualPMem":{"Devices":{)" + devices + "}}}}");
  };
  auto missing = qemuCommandLine(kMachine, pmemDoc(R"("0":{"HostPath":"/no/such.vhd"})"), "qemu");
  EXPECT_THAT(missing, HResultIs(hr::kFileNotFound));
  EXPECT_THAT(missing.status().message(), HasSubstr("VirtualPMem.Devices.0.HostPath"));
  std::string dir = std::string(std::getenv("TEST_TMPDIR"));
  std::ofstream(dir + "/odd.img") << std::string(4096, 'x');
  auto odd = qemuCommandLine(kMachine, pmemDoc(R"("0":{"HostPath":")" + dir + R"(/odd.img"})"), "qemu");
  EXPECT_THAT(odd, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(odd.status().message(), HasSubstr("multiple of 2 MiB"));
  auto nic = qemuCommandLine(kMachine, document(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},
      "ComputeTopology":{"Memory":{"SizeInMB":256}},"Devices":{"NetworkAdapters":{"e1":{"EndpointId":"e1","MacAddress":"00-15-5D-00-00-01"}}}})"),
                             "qemu");
  EXPECT_THAT(nic, HResultIs(hr::kNotImpl));
  EXPECT_THAT(nic.status().message(), HasSubstr("VirtualMachine.Devices.NetworkAdapters"));
  auto key = qemuCommandLine(kMachine, pmemDoc(R"("../0":{"HostPath":"/x"})"), "qemu");
  EXPECT_THAT(key, HResultIs(hr::kInvalidArg));
  EXPECT_THAT(key.status().message(), HasSubstr("VirtualPMem.Devices.../0"));
}

// VPMem devices in the document are virtio-pmem devices from the start,
// read-only file-backed memory of the image's size (a VHD's footer left out).
TEST(QemuCommandLineTest, DocumentVpmemDevicesAreVirtioPmem) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR"));
  {
    std::ofstream f(dir + "/layer.vhd");
    f << std::string((4 << 20) + 512, 'x');
  }
  auto doc = document(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},
      "ComputeTopology":{"Memory":{"SizeInMB":256}},"Devices":{"VirtualPMem":{"MaximumCount":4,
      "Devices":{"2":{"HostPath":")" + dir + R"(/layer.vhd","ReadOnly":true,"ImageFormat":"Vhd1"}}}}})");
  auto argv = qemuCommandLine(kMachine, doc, "qemu");
  ASSERT_TRUE(argv.ok()) << argv.status().toString();
  EXPECT_THAT(*argv, Contains("memory-backend-file,id=pm2,mem-path=" + dir + "/layer.vhd,size=4194304,share=on,readonly=on"));
  EXPECT_THAT(*argv, Contains("virtio-pmem-pci,id=vp2,memdev=pm2"));
}

TEST(QemuCommandLineTest, KernelCommandLineLosesOnlyHyperVOptions) {
  EXPECT_EQ(qemuKernelCommandLine("initcall_blacklist=virtio_vsock_init panic=-1 pci=off  nr_cpus=1 -- -e 1 /bin/x pci=off"),
            std::string(kQemuKernelOptions) + " panic=-1 nr_cpus=1 -- -e 1 /bin/x pci=off");
  EXPECT_EQ(qemuKernelCommandLine("console=ttyS0"), std::string(kQemuKernelOptions) + " console=ttyS0");
}

std::string attach(uint8_t type, const std::string& uname, const std::string& aname) {
  std::string m(4, '\0');
  m.push_back(static_cast<char>(type));
  m += std::string("\x01\x00", 2);                    // tag
  m += std::string(type == 104 ? 8 : 4, '\x07');      // fid (+ afid)
  auto str = [&](const std::string& s) {
    uint16_t n = static_cast<uint16_t>(s.size());
    m.append(reinterpret_cast<const char*>(&n), 2);
    m += s;
  };
  str(uname);
  str(aname);
  m += std::string("\0\0\0\0", 4);  // n_uname
  uint32_t size = static_cast<uint32_t>(m.size());
  std::memcpy(m.data(), &size, 4);
  return m;
}

TEST(Plan9RewriteTest, AttachNameBecomesTheSharesPath) {
  auto lookup = [](const std::string& n) { return n == "0" ? std::string("/var/lib/layers/abc") : std::string(); };
  auto out = rewriteAttachName(attach(104, "nobody", "0"), lookup);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, attach(104, "nobody", "/var/lib/layers/abc"));  // size field included
  auto auth = rewriteAttachName(attach(102, "root", "0"), lookup);
  EXPECT_EQ(*auth, attach(102, "root", "/var/lib/layers/abc"));
  EXPECT_EQ(*rewriteAttachName(attach(104, "nobody", "9"), lookup), attach(104, "nobody", "9"));  // unknown: diod refuses
  std::string walk = attach(110, "x", "0");  // another message type passes unchanged
  EXPECT_EQ(*rewriteAttachName(walk, lookup), walk);
  std::string cut = attach(104, "nobody", "0").substr(0, 20);
  EXPECT_EQ(rewriteAttachName(cut, lookup).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(rewriteAttachName("abc", lookup).status().code(), Code::kInvalidArgument);
}

// A scripted QMP server: greeting, then canned answers by command.
class QmpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_ = std::move(*runtime::RealRuntime::create("qmp-test"));
    char tmpl[] = "/tmp/qmp-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto l = rt_->transport().listen("unix://" + dir_ + "/qmp.sock");
    ASSERT_TRUE(l.ok());
    listener_ = std::move(*l);
    runtime::spawn([](QmpTest* t) -> runtime::Task<void> {
      auto s = co_await t->listener_->accept();
      if (!s.ok()) co_return;
      t->server_ = std::move(*s);
      (void)co_await t->server_->write(R"({"QMP":{"version":{"qemu":{"major":7,"minor":2,"micro":22},"package":""},"capabilities":["oob"]}})" "\r\n");
      std::string buf;
      char c[512];
      for (;;) {
        auto n = co_await t->server_->read(std::span<char>(c, sizeof c));
        if (!n.ok() || *n == 0) co_return;
        buf.append(c, *n);
        for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1)) {
          auto req = parseJson(buf.substr(0, nl));
          if (!req.ok()) continue;
          std::string cmd = req->value("execute", "");
          Json reply = {{"id", (*req)["id"]}};
          if (cmd == "query-status") {
            reply["return"] = {{"running", true}, {"status", "running"}};
          } else if (cmd == "device_del") {
            reply["error"] = {{"class", "DeviceNotFound"}, {"desc", "Device 'x' not found"}};
          } else if (cmd == "quit") {
            t->server_->close();
            co_return;
          } else {
            reply["return"] = Json::object();
          }
          if (cmd == "stop") (void)co_await t->server_->write(R"({"event":"STOP","data":{},"timestamp":{"seconds":1,"microseconds":2}})" "\r\n");
          (void)co_await t->server_->write(reply.dump() + "\r\n");
        }
      }
    }(this));
  }
  void TearDown() override {
    if (server_) server_->close();
    listener_->close();
    runtime::drain(rt_->loop());
    std::filesystem::remove_all(dir_);
  }
  template <typename T>
  T run(runtime::Task<T> t) {
    return runtime::blockOn(rt_->loop(), std::move(t));
  }
  std::unique_ptr<runtime::RealRuntime> rt_;
  std::string dir_;
  std::unique_ptr<runtime::Listener> listener_;
  std::unique_ptr<runtime::Stream> server_;
};

TEST_F(QmpTest, NegotiatesExecutesAndReportsErrorsAndEvents) {
  auto q = run(QmpClient::connect(rt_->loop(), rt_->transport(), dir_ + "/qmp.sock", std::chrono::seconds(5)));
  ASSERT_TRUE(q.ok()) << q.status().toString();
  EXPECT_EQ((*q)->version(), "7.2.22");
  std::vector<std::string> events;
  (*q)->setOnEvent([&](const std::string& name, const Json&) { events.push_back(name); });
  auto status = run((*q)->execute("query-status"));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->value("status", ""), "running");
  auto del = run((*q)->execute("device_del", {{"id", "x"}}));
  EXPECT_EQ(del.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(del.status().message(), HasSubstr("DeviceNotFound: Device 'x' not found"));
  ASSERT_TRUE(run((*q)->execute("stop")).ok());
  EXPECT_THAT(events, Contains("STOP"));
  // QEMU going away fails what is pending and what comes after.
  bool closed = false;
  (*q)->setOnClose([&] { closed = true; });
  auto quit = run((*q)->execute("quit"));
  EXPECT_EQ(quit.status().code(), Code::kUnavailable);
  EXPECT_TRUE(closed);
  EXPECT_EQ(run((*q)->execute("cont")).status().code(), Code::kUnavailable);
}

TEST_F(QmpTest, NoQmpSocketIsUnavailableAfterTheTimeout) {
  auto q = run(QmpClient::connect(rt_->loop(), rt_->transport(), dir_ + "/nothing.sock", std::chrono::milliseconds(200)));
  EXPECT_EQ(q.status().code(), Code::kUnavailable);
  EXPECT_THAT(q.status().message(), HasSubstr("nothing.sock"));
}

// QEMU that dies before it serves QMP: Start fails at once, naming it, and
// leaves neither the device process nor the VM's files.
TEST(QemuBackendTest, QemuDyingAtStartFailsTheStartPromptly) {
  auto rt = std::move(*runtime::RealRuntime::create("qemu-backend-test"));
  char tmpl[] = "/tmp/qemu-backend-test.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string device = std::string(std::getenv("TEST_SRCDIR")) + "/hcsshim_cpp/sim/vsock/vhost-user-vsock";
  QemuVmBackend backend(*rt, QemuBackendOptions{.qemuPath = "/bin/false",
                                                .vsockDevicePath = device,
                                                .vsockRoot = dir + "/vsock",
                                                .vmRoot = dir + "/vm",
                                                .accel = "tcg"});
  auto doc = document(R"({"Chipset":{"LinuxKernelDirect":{"KernelFilePath":"/k"}},"ComputeTopology":{"Memory":{"SizeInMB":256}}})");
  auto t0 = rt->loop().now();
  Status st = runtime::blockOn(rt->loop(), backend.start("vm-dies", doc));
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("QEMU"));
  EXPECT_LT(rt->loop().now() - t0, std::chrono::seconds(5)) << "not the 10 s QMP timeout";
  EXPECT_EQ(backend.runningGuests(), 0u);
  std::error_code ec;
  EXPECT_TRUE(!std::filesystem::exists(dir + "/vm", ec) || std::filesystem::is_empty(dir + "/vm", ec));
  runtime::drain(rt->loop());
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace hcsshim::hcs_fake
