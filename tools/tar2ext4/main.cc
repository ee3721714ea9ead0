// tar2ext4: a layer tar as a compact read-only ext4 image, with hcsshim's
// command line:
//   tar2ext4 [-i layer.tar | -dir DIR] -o layer.vhd [-overlay] [-vhd]
//            [-inline] [-verity] [-max-size BYTES]
// -i defaults to standard input; -dir converts a directory tree instead (a
// containerd overlay snapshot, whiteouts already in overlay form). -verity appends the dm-verity hash tree
// (before the footer) and prints its root hash. On an error the output is
// removed: no partial image is left.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "src/common/flags.h"
#include "src/ext4/tar2ext4.h"

using namespace hcsshim;

int main(int argc, char** argv) {
  FlagSet flags("tar2ext4");
  std::string in, out, dir;
  bool overlay = false, vhd = false, inlineData = false, verity = false;
  int64_t maxSize = static_cast<int64_t>(ext4::kDefaultMaximumDiskSize);
  flags.string("i", &in, "the input tar (default: standard input)");
  flags.string("o", &out, "the output image");
  flags.string("dir", &dir, "convert this directory tree instead of a tar");
  flags.boolean("overlay", &overlay, "convert whiteouts to overlay form (0:0 devices, trusted.overlay.opaque)");
  flags.boolean("vhd", &vhd, "append a fixed VHD footer");
  flags.boolean("inline", &inlineData, "store files up to 136 bytes in their inode");
  flags.boolean("verity", &verity, "append a dm-verity hash tree and print its root hash");
  flags.integer("max-size", &maxSize, "the largest image, in bytes (default 16 GiB)");
  auto rest = flags.parse(argc, argv);
  if (!rest.ok() || !rest->empty() || out.empty() || maxSize <= 0) {
    std::fprintf(stderr, "%s\nusage: tar2ext4 [-i layer.tar] -o layer.vhd [-overlay] [-vhd] [-inline] [-verity]\n%s",
                 rest.ok() ? (out.empty() ? "-o is required" : "unexpected arguments") : rest.status().message().c_str(),
                 flags.usage().c_str());
    return 2;
  }
  int inFd = 0;
  if (!in.empty() && in != "-") {
    inFd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    if (inFd < 0) {
      std::perror(in.c_str());
      return 1;
    }
  }
  int outFd = ::open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (outFd < 0) {
    std::perror(out.c_str());
    return 1;
  }
  ext4::Tar2Ext4Options o{.convertWhiteout = overlay, .appendVhdFooter = vhd, .appendDmVerity = verity,
                          .inlineData = inlineData, .maximumDiskSize = static_cast<uint64_t>(maxSize)};
  auto r = dir.empty() ? ext4::convert(inFd, outFd, o) : ext4::convertDirectory(dir, outFd, o);
  if (r.ok() && ::fsync(outFd) != 0) r = Status(Code::kUnavailable, "fsync " + out);
  ::close(outFd);
  if (!r.ok()) {
    ::unlink(out.c_str());
    std::fprintf(stderr, "tar2ext4: %s\n", r.status().message().c_str());
    return 1;
  }
  if (verity) std::printf("%s\n", r->verityRootHash.c_str());
  return 0;
}
