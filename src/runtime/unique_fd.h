// unique_fd.h: an owned file descriptor, closed when it goes out of scope.
//
//   UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd) return errnoStatus(errno, "open", path);
//   int raw = fd.release();   // hand it to something that closes it itself
//
// What every path that opens descriptors uses instead of hand-written close
// calls on each error path (posix_process.cc spawn, unix_transport.cc).
#pragma once

#include <unistd.h>

#include <utility>

namespace hcsshim::runtime {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // release gives up ownership (the caller closes it).
  int release() { return std::exchange(fd_, -1); }
  // reset closes the current descriptor (if any) and owns fd.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// FdPair: both ends of a pipe or socket pair.
struct FdPair {
  UniqueFd read, write;
};

}  // namespace hcsshim::runtime
