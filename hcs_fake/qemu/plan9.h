// plan9.h: Plan9 shares of a QEMU utility VM, served the way HCS serves
// them - 9P on the VM's vsock port 564, where the guest dials once per
// mount (trans=fd) - by a real 9P2000.L server: one Debian `diod` per
// connection, speaking over its stdin/stdout (--rfdno 0 --wfdno 1).
//
// hcsshim names a share by a counter ("0", "1", ... as Name and
// AccessName) and the guest attaches with aname = that name; diod attaches
// only to an exported path. So the relay between the guest's connection
// and diod rewrites the aname of Tattach (type 104: size[4] type[1] tag[2]
// fid[4] afid[4] uname[s] aname[s] n_uname[4]) and Tauth (102: ... afid[4]
// uname[s] aname[s] ...) from a share's AccessName to its path, fixing the
// message size; everything else passes through unchanged. diod's exports
// are the VM's shares at the time of the connection (read-only ones with
// opts "ro", from Flags bit 0x1), written to <dir>/diod.conf.
// A 9P message over 1 MiB (the guest's msize is 64 KiB) ends the connection.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "src/common/status.h"
#include "src/runtime/runtime.h"

namespace hcsshim::hcs_fake {

struct Plan9Share {
  std::string path;
  bool readOnly = false;
};

// rewriteAttachName: a Tattach/Tauth message with its aname replaced by
// `lookup(aname)` when that is non-empty; other messages as they are.
// InvalidArgument for a truncated attach.
StatusOr<std::string> rewriteAttachName(std::string_view message,
                                        const std::function<std::string(const std::string&)>& lookup);

class Plan9Server {
 public:
  Plan9Server(runtime::Runtime& rt, std::string diodPath, std::string dir, std::string listenPath);
  ~Plan9Server();
  Status start();
  // add / remove a share (by AccessName).
  Status add(const std::string& accessName, Plan9Share share);
  Status remove(const std::string& accessName);
  size_t connections() const { return *live_; }

 private:
  Status writeConfig();
  runtime::Task<void> acceptLoop();
  runtime::Task<void> serve(std::unique_ptr<runtime::Stream> guest);

  runtime::Runtime& rt_;
  std::string diodPath_, dir_, listenPath_;
  std::shared_ptr<runtime::Listener> listener_;
  std::map<std::string, Plan9Share> shares_;
  std::shared_ptr<int> live_ = std::make_shared<int>(0);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hcsshim::hcs_fake
