#include "hcs_fake/freezer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "src/common/sha256.h"
#include "src/runtime/read_file.h"
#include "src/runtime/wait_for.h"

namespace hcsshim::hcs_fake {

namespace fs = std::filesystem;
using runtime::Task;

bool isCgroupV2(const std::string& root) { return fs::exists(root + "/cgroup.controllers"); }

namespace {

std::string stateFile(const std::string& dir, bool v2) { return dir + (v2 ? "/cgroup.freeze" : "/freezer.state"); }

// readsBack: the state the kernel reports is the one asked for. v1 passes
// through FREEZING while tasks are being stopped.
bool readsBack(const std::string& dir, bool v2, bool frozen, std::string* seen) {
  if (v2) {
    std::string events = runtime::readFile(dir + "/cgroup.events", 4096).value_or("");
    *seen = events;
    return events.find(frozen ? "frozen 1" : "frozen 0") != std::string::npos;
  }
  std::string state = runtime::readFile(dir + "/freezer.state", 64).value_or("");
  while (!state.empty() && state.back() == '\n') state.pop_back();
  *seen = state;
  return state == (frozen ? "FROZEN" : "THAWED");
}

}  // namespace

Status writeFreezerState(const std::string& dir, bool v2, bool frozen) {
  std::string file = stateFile(dir, v2);
  std::string value = v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, "open freezer", file);
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) return errnoStatus(err, "write " + value + " to", file);
  return OkStatus();
}

Task<Status> freezeCgroup(runtime::EventLoop& loop, std::string dir, bool v2, bool frozen, runtime::Duration deadline) {
  HCS_CO_RETURN_IF_ERROR(writeFreezerState(dir, v2, frozen));
  std::string seen;
  // v1 freezes the tasks it finds when FROZEN is written; one that could not
  // stop then (forking, in a syscall that does not check for freezing) keeps
  // the group in FREEZING until FROZEN is written again. So a v1 freeze asks
  // again every 10 ms, and every half second thaws for a moment to let a
  // task stuck half-way move on. v2 finishes by itself.
  int polls = 0;
  Status writeError = OkStatus();
  auto check = [&] {
    if (readsBack(dir, v2, frozen, &seen)) return true;
    if (v2 || !frozen || ++polls % 5 != 0) return false;
    if (polls % 250 == 0) (void)writeFreezerState(dir, v2, false);
    Status st = writeFreezerState(dir, v2, true);
    if (!st.ok()) writeError = st;
    return !st.ok();
  };
  bool reached = co_await runtime::waitFor(loop, check, deadline, std::chrono::milliseconds(2));
  if (!writeError.ok()) co_return writeError;
  if (!reached) {
    co_return DeadlineExceededError("freezer " + dir + " reads \"" + seen + "\", not " +
                                    (frozen ? "frozen" : "thawed") + ", after " +
                                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(deadline).count()) +
                                    " ms");
  }
  co_return OkStatus();
}

CgroupFreezer::CgroupFreezer(runtime::EventLoop& loop, std::string root, std::string parent)
    : loop_(loop), root_(std::move(root)), parent_(std::move(parent)), v2_(isCgroupV2(root_)) {}

CgroupFreezer::~CgroupFreezer() {
  retryPending();
  std::string parent = v2_ ? root_ + parent_ : root_ + "/freezer" + parent_;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    if (e.is_directory() && e.path().filename().string().rfind("cs-", 0) == 0) ::rmdir(e.path().c_str());
  }
  ::rmdir(parent.c_str());
}

std::string CgroupFreezer::dirFor(const std::string& id) const {
  // A digest: system ids are arbitrary strings, cgroup names are path components.
  std::string name = "cs-" + sha256Hex(id).substr(0, 16);
  return v2_ ? root_ + parent_ + "/" + name : root_ + "/freezer" + parent_ + "/" + name;
}

StatusOr<std::vector<std::string>> CgroupFreezer::create(const std::string& id) {
  retryPending();
  std::string dir = dirFor(id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(Code::kUnimplemented, "no cgroup freezer here (" + dir + ": " + ec.message() + ")");
  return std::vector<std::string>{dir};
}

Task<Status> CgroupFreezer::freeze(const std::string& id) { return freezeCgroup(loop_, dirFor(id), v2_, true); }
Task<Status> CgroupFreezer::thaw(const std::string& id) { return freezeCgroup(loop_, dirFor(id), v2_, false); }
void CgroupFreezer::thawNow(const std::string& id) { (void)writeFreezerState(dirFor(id), v2_, false); }

void CgroupFreezer::retryPending() {
  std::erase_if(pending_, [](const std::string& dir) { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT; });
}

void CgroupFreezer::destroy(const std::string& id) {
  // The last processes may take a moment to leave the group: what cannot go
  // now goes on a later call.
  pending_.insert(dirFor(id));
  retryPending();
}

}  // namespace hcsshim::hcs_fake
