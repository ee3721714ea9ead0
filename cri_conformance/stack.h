// stack.h: what the CRI suite runs against, started for the run and torn
// down after it, leaving nothing behind:
//   - Registry: Debian's docker-registry on 127.0.0.1 (a real OCI
//     registry) holding the test images, pushed by `ctr images push`;
//   - CriStack: one column of the report - a private containerd with its
//     CRI plugin and one runtime handler: "runc" (the reference: runc v2
//     shim, Debian's CNI plugins bridge + host-local + portmap) or "runhcs"
//     (io.containerd.runhcs.v1 over the fake HCS daemon, its options from a
//     runtimeoptions.v1 ConfigPath file, as Debian's containerd sends them).
//     Both pull from the registry through a registry mirror entry.
#pragma once

#include <memory>
#include <string>

#include "cri_conformance/client.h"
#include "functional/harness/containerd.h"
#include "functional/harness/hcs_fake_daemon.h"
#include "src/runtime/process.h"
#include "src/runtime/runtime.h"

namespace hcsshim::cri {

class Registry {
 public:
  // start serves a registry stored under dir on a free port of 127.0.0.1.
  static StatusOr<std::unique_ptr<Registry>> start(runtime::Runtime& rt, const std::string& dir);
  ~Registry();
  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"
  const std::string& logPath() const { return log_; }

 private:
  Registry() = default;
  std::unique_ptr<runtime::Process> process_;
  std::string host_, log_;
};

// The test images every column pulls (built from busybox-static at run time).
struct TestImages {
  std::string busybox;  // <registry>/hcsshim-test/busybox:1.0 (Cmd sh)
  std::string pause;    // <registry>/hcsshim-test/pause:3.6 (the sandbox image: sleeps)
};

// pushTestImages builds the images and pushes them with ctr through `ctd`.
StatusOr<TestImages> pushTestImages(runtime::Runtime& rt, functional::ContainerdInstance& ctd, const Registry& reg,
                                    const std::string& dir);

// podSubnet: the pods' subnet of a column (runc 10.99.0.0/24, runhcs 10.98.0.0/24).
std::string podSubnet(const std::string& handler);

class CriStack {
 public:
  static StatusOr<std::unique_ptr<CriStack>> start(runtime::Runtime& rt, const std::string& handler,
                                                   const Registry& reg, const TestImages& images,
                                                   const std::string& dir);
  ~CriStack();
  const std::string& handler() const { return handler_; }
  CriClient& cri() { return *cri_; }
  functional::ContainerdInstance& containerd() { return *ctd_; }
  // hcsAddress: the fake HCS daemon of the runhcs column ("" for runc).
  std::string hcsAddress() const { return hcs_ ? hcs_->address() : ""; }
  // computeSystems: how many compute systems the fake HCS has (runhcs; 0 for runc).
  StatusOr<size_t> computeSystems();
  // podNetwork: whether pods get a network of their own here (both do: runc
  // through Debian's bridge plugin, runhcs through hcn-nat and HNS).
  bool podNetwork() const { return true; }

 private:
  CriStack() = default;
  runtime::Runtime* rt_ = nullptr;
  std::string handler_, dir_;
  std::unique_ptr<functional::HcsFakeDaemon> hcs_;
  std::unique_ptr<functional::ContainerdInstance> ctd_;
  std::unique_ptr<CriClient> cri_;
};

}  // namespace hcsshim::cri
