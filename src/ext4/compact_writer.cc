#include "src/ext4/compact_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hcsshim::ext4 {

namespace {

constexpr uint32_t kBlocksPerGroup = 32768;
constexpr uint32_t kInodeSize = 256;
constexpr uint16_t kExtraIsize = 24;
constexpr uint32_t kRootInode = 2, kLostFoundInode = 11, kFirstInode = 11;
constexpr uint32_t kMaxExtentLength = 32768;
constexpr uint32_t kExtentsPerLeaf = (kBlockSize - 12) / 12;  // 340
constexpr uint32_t kFastSymlinkMax = 59;
constexpr uint32_t kInlineInBlock = 60, kInlineMax = 136;
constexpr uint32_t kXattrMagic = 0xEA020000;
constexpr uint32_t kFlagExtents = 0x80000, kFlagInlineData = 0x10000000;
// i_block's 60 bytes; after the 128-byte base inode and its 24 extra bytes,
// 4 bytes of xattr magic, then 100 bytes of entries and values.
constexpr size_t kInodeXattrStart = 128 + kExtraIsize, kInodeXattrSpace = kInodeSize - kInodeXattrStart - 4;

template <typename T>
void put(std::string& s, size_t off, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) s[off + i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
}

uint32_t alignUp(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

uint8_t fileType(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return 1;
    case S_IFDIR: return 2;
    case S_IFCHR: return 3;
    case S_IFBLK: return 4;
    case S_IFIFO: return 5;
    case S_IFSOCK: return 6;
    case S_IFLNK: return 7;
    default: return 0;
  }
}

// The on-disk form of a time: low 32 bits, and in the extra field two epoch
// bits (times past 2038 or before 1970) under the nanoseconds.
void putTime(std::string& s, size_t off, size_t extraOff, const Timestamp& t) {
  put<uint32_t>(s, off, static_cast<uint32_t>(t.sec));
  uint32_t epoch = static_cast<uint32_t>((t.sec - static_cast<int32_t>(static_cast<uint32_t>(t.sec))) >> 32) & 3;
  put<uint32_t>(s, extraOff, epoch | (std::min<uint32_t>(t.nsec, 999999999) << 2));
}

struct XattrName {
  uint8_t index = 0;
  std::string suffix;
};

// splitXattrName: the ext4 name index of a full attribute name and what
// follows its prefix.
StatusOr<XattrName> splitXattrName(const std::string& name) {
  if (name == "system.posix_acl_access") return XattrName{2, ""};
  if (name == "system.posix_acl_default") return XattrName{3, ""};
  static const struct {
    const char* prefix;
    uint8_t index;
  } kPrefixes[] = {{"user.", 1}, {"trusted.", 4}, {"security.", 6}, {"system.", 7}};
  for (const auto& p : kPrefixes) {
    size_t n = std::strlen(p.prefix);
    if (name.size() > n && name.compare(0, n, p.prefix) == 0) {
      if (name.size() - n > 255) return InvalidArgumentError("xattr name " + name + " is longer than 255 bytes");
      return XattrName{p.index, name.substr(n)};
    }
  }
  return InvalidArgumentError("xattr " + name + " has no namespace ext4 stores (user., trusted., security., system.)");
}

// posixAclToExt4: the VFS form of a POSIX ACL (version 2, 8-byte entries,
// as tar carries it) in ext4's form (version 1; owner, group-owner, mask
// and other entries without the id).
StatusOr<std::string> posixAclToExt4(const std::string& v) {
  if (v.size() < 4 || (v.size() - 4) % 8 != 0) return InvalidArgumentError("POSIX ACL of " + std::to_string(v.size()) + " bytes");
  auto u16 = [&](size_t o) { return static_cast<uint16_t>(static_cast<uint8_t>(v[o]) | static_cast<uint8_t>(v[o + 1]) << 8); };
  if (u16(0) != 2 || u16(2) != 0) return InvalidArgumentError("POSIX ACL is not version 2");
  std::string out(4, '\0');
  put<uint32_t>(out, 0, 1);
  for (size_t o = 4; o < v.size(); o += 8) {
    uint16_t tag = u16(o);
    bool withId = tag == 0x02 || tag == 0x08;  // ACL_USER, ACL_GROUP
    size_t at = out.size();
    out.resize(at + (withId ? 8 : 4));
    put<uint16_t>(out, at, tag);
    put<uint16_t>(out, at + 2, u16(o + 2));
    if (withId) out.replace(at + 4, 4, v, o + 4, 4);
  }
  return out;
}

struct EncodedXattr {
  XattrName name;
  std::string value;
  uint32_t hash = 0;
  size_t entrySize() const { return alignUp(16 + static_cast<uint32_t>(name.suffix.size()), 4); }
  size_t valueSize() const { return alignUp(static_cast<uint32_t>(value.size()), 4); }
};

uint32_t entryHash(const EncodedXattr& x) {
  uint32_t h = 0;
  for (char c : x.name.suffix) h = (h << 5) ^ (h >> 27) ^ static_cast<uint32_t>(static_cast<int32_t>(static_cast<signed char>(c)));
  std::string v = x.value;
  v.resize(x.valueSize(), '\0');
  for (size_t i = 0; i < v.size(); i += 4) {
    uint32_t w = 0;
    std::memcpy(&w, v.data() + i, 4);
    h = (h << 16) ^ (h >> 16) ^ w;
  }
  return h;
}

// writeXattrs: entries from `entriesAt`, values down from `end`; value
// offsets count from `base`. The caller checked that they fit.
void writeXattrs(std::string& s, size_t base, size_t entriesAt, size_t end, const std::vector<EncodedXattr>& xs,
                 bool hashed) {
  size_t e = entriesAt, v = end;
  for (const auto& x : xs) {
    v -= x.valueSize();
    s[e] = static_cast<char>(x.name.suffix.size());
    s[e + 1] = static_cast<char>(x.name.index);
    put<uint16_t>(s, e + 2, static_cast<uint16_t>(x.value.empty() ? 0 : v - base));
    put<uint32_t>(s, e + 4, 0);
    put<uint32_t>(s, e + 8, static_cast<uint32_t>(x.value.size()));
    put<uint32_t>(s, e + 12, hashed ? x.hash : 0);
    std::memcpy(s.data() + e + 16, x.name.suffix.data(), x.name.suffix.size());
    std::memcpy(s.data() + v, x.value.data(), x.value.size());
    e += x.entrySize();
  }
}

}  // namespace

struct CompactWriter::Node {
  FileInfo info;
  std::string path;
  std::string target;                         // a symlink's
  std::map<std::string, uint32_t> children;   // a directory's
  uint32_t parent = kRootInode;
  uint32_t links = 0;
  std::vector<Extent> extents;
  std::vector<uint64_t> leafBlocks;  // extent index leaves
  uint64_t xattrBlock = 0;
  std::vector<EncodedXattr> inodeXattrs;
  std::string inlineData;
  bool isInline = false;
  uint64_t written = 0;  // bytes of data received so far (regular files)
  bool isDir() const { return (info.mode & S_IFMT) == S_IFDIR; }
  uint64_t dataBlocks() const {
    uint64_t n = 0;
    for (const auto& e : extents) n += e.length;
    return n;
  }
};

CompactWriter::CompactWriter(int fd, WriterOptions options) : fd_(fd), options_(options) {
  uint64_t groups = (options_.maximumDiskSize + uint64_t{kBlockSize} * kBlocksPerGroup - 1) / (uint64_t{kBlockSize} * kBlocksPerGroup);
  descriptorBlocks_ = static_cast<uint32_t>(std::max<uint64_t>(1, (groups * 32 + kBlockSize - 1) / kBlockSize));
  nextBlock_ = 1 + descriptorBlocks_;
  nodes_.resize(kFirstInode + 1);
  auto dir = [&](uint32_t ino, uint32_t mode, const std::string& path) {
    nodes_[ino] = std::make_unique<Node>();
    nodes_[ino]->info.mode = S_IFDIR | mode;
    nodes_[ino]->path = path;
    nodes_[ino]->parent = kRootInode;
  };
  dir(kRootInode, 0755, "");
  dir(kLostFoundInode, 0700, "lost+found");
  nodes_[kRootInode]->children["lost+found"] = kLostFoundInode;
}

CompactWriter::~CompactWriter() = default;

StatusOr<uint32_t> CompactWriter::lookup(const std::string& path) const {
  uint32_t ino = kRootInode;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const Node& n = *nodes_[ino];
    if (!n.isDir()) return NotFoundError(path + ": " + path.substr(0, start) + " is not a directory");
    auto it = n.children.find(path.substr(start, end - start));
    if (it == n.children.end()) return NotFoundError(path + " does not exist");
    ino = it->second;
    start = end + 1;
  }
  return ino;
}

StatusOr<uint32_t> CompactWriter::parentOf(const std::string& path, std::string* name) const {
  size_t slash = path.rfind('/');
  *name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name->empty() || *name == "." || *name == "..") return InvalidArgumentError(path + ": not a normalised path");
  if (name->size() > 255) return InvalidArgumentError(path + ": a name is longer than 255 bytes");
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  auto p = lookup(dir);
  if (!p.ok()) return NotFoundError(path + ": its directory " + dir + " does not exist");
  if (!nodes_[*p]->isDir()) return FailedPreconditionError(path + ": " + dir + " is not a directory");
  return *p;
}

bool CompactWriter::exists(const std::string& path) const { return lookup(path).ok(); }

bool CompactWriter::isDirectory(const std::string& path) const {
  auto ino = lookup(path);
  return ino.ok() && nodes_[*ino]->isDir();
}

uint32_t CompactWriter::newInode() {
  nodes_.push_back(std::make_unique<Node>());
  return static_cast<uint32_t>(nodes_.size() - 1);
}

void CompactWriter::unlinkEntry(uint32_t dir, const std::string& name) {
  auto it = nodes_[dir]->children.find(name);
  if (it == nodes_[dir]->children.end()) return;
  uint32_t ino = it->second;
  nodes_[dir]->children.erase(it);
  if (--nodes_[ino]->links == 0) nodes_[ino].reset();  // its blocks are simply no longer referenced
}

Status CompactWriter::create(const std::string& path, const FileInfo& info, const std::string& target) {
  if (finished_) return FailedPreconditionError("create after finish");
  HCS_RETURN_IF_ERROR(flushBlock());
  current_ = 0;
  uint32_t type = info.mode & S_IFMT;
  if (fileType(info.mode) == 0) return InvalidArgumentError(path + ": unknown file type " + std::to_string(type >> 12));
  if (type == S_IFREG && info.size > kMaxFileSize) {
    return InvalidArgumentError(path + ": " + std::to_string(info.size) + " bytes is larger than ext4 files here (128 GiB)");
  }
  if (type == S_IFLNK && (target.empty() || target.size() >= kBlockSize)) {
    return InvalidArgumentError(path + ": a symlink target of " + std::to_string(target.size()) + " bytes");
  }
  if (path.empty()) {  // the root takes the info
    if (type != S_IFDIR) return InvalidArgumentError("the root must be a directory");
    nodes_[kRootInode]->info = info;
    return OkStatus();
  }
  std::string name;
  HCS_ASSIGN_OR_RETURN(uint32_t parent, parentOf(path, &name));
  auto existing = nodes_[parent]->children.find(name);
  if (existing != nodes_[parent]->children.end()) {
    Node& old = *nodes_[existing->second];
    if (old.isDir() && type == S_IFDIR) {
      old.info = info;
      return OkStatus();
    }
    if (old.isDir()) return FailedPreconditionError(path + ": a directory cannot be replaced by a non-directory");
    unlinkEntry(parent, name);
  }
  uint32_t ino = newInode();
  Node& n = *nodes_[ino];
  n.info = info;
  n.info.mode = type | (info.mode & 07777);
  if (type == S_IFLNK) n.info.mode = S_IFLNK | 0777;
  if (type != S_IFREG) n.info.size = 0;
  n.path = path;
  n.parent = parent;
  n.links = 1;
  n.target = target;
  nodes_[parent]->children[name] = ino;
  if (type == S_IFREG) {
    current_ = ino;
    n.isInline = options_.inlineData && info.size <= kInlineMax && info.xattrs.empty();
  }
  if (type == S_IFLNK && target.size() > kFastSymlinkMax) {
    std::string block = target;
    block.resize(kBlockSize, '\0');
    HCS_RETURN_IF_ERROR(appendBlocks(block, &n.extents, 0));
  }
  return OkStatus();
}

Status CompactWriter::write(uint64_t offset, std::string_view data) {
  if (current_ == 0 || !nodes_[current_]) return FailedPreconditionError("write without a regular file to write to");
  Node& n = *nodes_[current_];
  if (offset < n.written) return InvalidArgumentError(n.path + ": data at " + std::to_string(offset) + " goes back");
  if (offset + data.size() > n.info.size) {
    return InvalidArgumentError(n.path + ": data up to " + std::to_string(offset + data.size()) + " is beyond its size " +
                                std::to_string(n.info.size));
  }
  n.written = offset + data.size();
  if (n.isInline) {
    n.inlineData.resize(offset, '\0');
    n.inlineData.append(data);
    return OkStatus();
  }
  while (!data.empty()) {
    uint64_t lb = offset / kBlockSize;
    size_t within = offset % kBlockSize;
    if (lb != currentBlock_) {
      HCS_RETURN_IF_ERROR(flushBlock());
      // Whole blocks straight to the image.
      if (within == 0 && data.size() >= kBlockSize) {
        size_t whole = data.size() / kBlockSize * kBlockSize;
        HCS_RETURN_IF_ERROR(appendBlocks(data.substr(0, whole), &n.extents, static_cast<uint32_t>(lb)));
        data.remove_prefix(whole);
        offset += whole;
        continue;
      }
      currentBlock_ = lb;
      buffer_.assign(kBlockSize, '\0');
    }
    size_t part = std::min<size_t>(data.size(), kBlockSize - within);
    std::memcpy(buffer_.data() + within, data.data(), part);
    data.remove_prefix(part);
    offset += part;
  }
  return OkStatus();
}

Status CompactWriter::flushBlock() {
  if (currentBlock_ == UINT64_MAX) return OkStatus();
  uint64_t lb = std::exchange(currentBlock_, UINT64_MAX);
  if (current_ == 0 || !nodes_[current_]) return OkStatus();
  return appendBlocks(buffer_, &nodes_[current_]->extents, static_cast<uint32_t>(lb));
}

Status CompactWriter::writeAt(uint64_t offset, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status(Code::kUnavailable, std::string("writing the image: ") + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return OkStatus();
}

Status CompactWriter::appendBlocks(std::string_view data, std::vector<Extent>* extents, uint32_t logical) {
  uint64_t blocks = data.size() / kBlockSize;
  if ((nextBlock_ + blocks) * kBlockSize > options_.maximumDiskSize) {
    std::string who = current_ && nodes_[current_] ? nodes_[current_]->path + ": " : "";
    return Status(Code::kResourceExhausted, who + "the image would be larger than its maximum disk size of " +
                                                std::to_string(options_.maximumDiskSize) + " bytes");
  }
  HCS_RETURN_IF_ERROR(writeAt(nextBlock_ * kBlockSize, data));
  uint64_t physical = nextBlock_;
  nextBlock_ += blocks;
  while (blocks > 0) {
    if (!extents->empty()) {
      Extent& last = extents->back();
      if (last.logical + last.length == logical && last.physical + last.length == physical &&
          last.length < kMaxExtentLength) {
        uint32_t more = static_cast<uint32_t>(std::min<uint64_t>(blocks, kMaxExtentLength - last.length));
        last.length += more;
        logical += more;
        physical += more;
        blocks -= more;
        continue;
      }
    }
    uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(blocks, kMaxExtentLength));
    extents->push_back(Extent{logical, len, physical});
    logical += len;
    physical += len;
    blocks -= len;
  }
  return OkStatus();
}

Status CompactWriter::link(const std::string& existing, const std::string& path) {
  HCS_RETURN_IF_ERROR(flushBlock());
  current_ = 0;
  auto target = lookup(existing);
  if (!target.ok()) return NotFoundError(path + ": hard link to " + existing + ", which does not exist");
  if (nodes_[*target]->isDir()) return InvalidArgumentError(path + ": hard link to the directory " + existing);
  if (nodes_[*target]->links >= 65000) return ResourceExhaustedError(path + ": " + existing + " has 65000 links");
  std::string name;
  HCS_ASSIGN_OR_RETURN(uint32_t parent, parentOf(path, &name));
  auto old = nodes_[parent]->children.find(name);
  if (old != nodes_[parent]->children.end()) {
    if (old->second == *target) return OkStatus();
    if (nodes_[old->second]->isDir()) return FailedPreconditionError(path + ": a directory cannot be replaced by a hard link");
    unlinkEntry(parent, name);
  }
  nodes_[parent]->children[name] = *target;
  ++nodes_[*target]->links;
  return OkStatus();
}

Status CompactWriter::setXattr(const std::string& path, const std::string& name, const std::string& value) {
  HCS_ASSIGN_OR_RETURN(uint32_t ino, lookup(path));
  if (nodes_[ino]->isInline) return FailedPreconditionError(path + ": xattrs on an inline file");
  nodes_[ino]->info.xattrs[name] = value;
  return OkStatus();
}

// placeXattrs: in the inode when all fit, else all in one block (appended now).
Status CompactWriter::placeXattrs(Node& n) {
  std::vector<EncodedXattr> xs;
  if (n.isInline) {
    EncodedXattr data{XattrName{7, "data"}, n.inlineData.size() > kInlineInBlock ? n.inlineData.substr(kInlineInBlock) : ""};
    n.inodeXattrs.push_back(std::move(data));
    return OkStatus();
  }
  for (const auto& [name, value] : n.info.xattrs) {
    auto x = splitXattrName(name);
    if (!x.ok()) return InvalidArgumentError(n.path + ": " + x.status().message());
    EncodedXattr e{*x, value};
    if (x->index == 2 || x->index == 3) {
      auto acl = posixAclToExt4(value);
      if (!acl.ok()) return InvalidArgumentError(n.path + ": " + name + ": " + acl.status().message());
      e.value = *acl;
    }
    e.hash = entryHash(e);
    xs.push_back(std::move(e));
  }
  if (xs.empty()) return OkStatus();
  // Sorted as the kernel searches a block: index, name length, name.
  std::sort(xs.begin(), xs.end(), [](const EncodedXattr& a, const EncodedXattr& b) {
    if (a.name.index != b.name.index) return a.name.index < b.name.index;
    if (a.name.suffix.size() != b.name.suffix.size()) return a.name.suffix.size() < b.name.suffix.size();
    return a.name.suffix < b.name.suffix;
  });
  size_t need = 4;  // the terminating zero entry
  for (const auto& x : xs) need += x.entrySize() + x.valueSize();
  if (need <= kInodeXattrSpace) {
    n.inodeXattrs = std::move(xs);
    return OkStatus();
  }
  if (need > kBlockSize - 32) return InvalidArgumentError(n.path + ": its xattrs need more than one block");
  std::string block(kBlockSize, '\0');
  put<uint32_t>(block, 0, kXattrMagic);
  put<uint32_t>(block, 4, 1);  // refcount
  put<uint32_t>(block, 8, 1);  // blocks
  uint32_t h = 0;
  for (const auto& x : xs) h = (h << 16) ^ (h >> 16) ^ x.hash;
  put<uint32_t>(block, 12, h);
  writeXattrs(block, 0, 32, kBlockSize, xs, true);
  std::vector<Extent> none;
  n.xattrBlock = nextBlock_;
  return appendBlocks(block, &none, 0);
}

std::string CompactWriter::directoryBlocks(uint32_t ino) const {
  const Node& d = *nodes_[ino];
  std::string out;
  size_t blockStart = 0, lastEntry = 0;
  auto add = [&](uint32_t child, const std::string& name, uint8_t type) {
    uint32_t len = alignUp(8 + static_cast<uint32_t>(name.size()), 4);
    if (out.size() + len > blockStart + kBlockSize) {
      put<uint16_t>(out, lastEntry + 4, static_cast<uint16_t>(blockStart + kBlockSize - lastEntry));
      out.resize(blockStart + kBlockSize, '\0');
      blockStart = out.size();
    }
    lastEntry = out.size();
    out.resize(out.size() + len, '\0');
    put<uint32_t>(out, lastEntry, child);
    put<uint16_t>(out, lastEntry + 4, static_cast<uint16_t>(len));
    out[lastEntry + 6] = static_cast<char>(name.size());
    out[lastEntry + 7] = static_cast<char>(type);
    std::memcpy(out.data() + lastEntry + 8, name.data(), name.size());
  };
  add(ino, ".", 2);
  add(d.parent, "..", 2);
  for (const auto& [name, child] : d.children) add(child, name, fileType(nodes_[child]->info.mode));
  put<uint16_t>(out, lastEntry + 4, static_cast<uint16_t>(blockStart + kBlockSize - lastEntry));
  out.resize(blockStart + kBlockSize, '\0');
  return out;
}

Status CompactWriter::encodeExtents(Node& n, std::string& iblock) {
  auto header = [](std::string& s, size_t off, uint16_t entries, uint16_t max, uint16_t depth) {
    put<uint16_t>(s, off, 0xF30A);
    put<uint16_t>(s, off + 2, entries);
    put<uint16_t>(s, off + 4, max);
    put<uint16_t>(s, off + 6, depth);
    put<uint32_t>(s, off + 8, 0);
  };
  auto extent = [](std::string& s, size_t off, const Extent& e) {
    put<uint32_t>(s, off, e.logical);
    put<uint16_t>(s, off + 4, static_cast<uint16_t>(e.length));
    put<uint16_t>(s, off + 6, static_cast<uint16_t>(e.physical >> 32));
    put<uint32_t>(s, off + 8, static_cast<uint32_t>(e.physical));
  };
  if (n.extents.size() <= 4) {
    header(iblock, 0, static_cast<uint16_t>(n.extents.size()), 4, 0);
    for (size_t i = 0; i < n.extents.size(); ++i) extent(iblock, 12 + 12 * i, n.extents[i]);
    return OkStatus();
  }
  size_t leaves = (n.extents.size() + kExtentsPerLeaf - 1) / kExtentsPerLeaf;
  if (leaves > 4) return ResourceExhaustedError(n.path + ": " + std::to_string(n.extents.size()) + " extents (at most 1360)");
  if (n.leafBlocks.empty()) {
    for (size_t l = 0; l < leaves; ++l) {
      std::string block(kBlockSize, '\0');
      size_t first = l * kExtentsPerLeaf, count = std::min<size_t>(kExtentsPerLeaf, n.extents.size() - first);
      header(block, 0, static_cast<uint16_t>(count), kExtentsPerLeaf, 0);
      for (size_t i = 0; i < count; ++i) extent(block, 12 + 12 * i, n.extents[first + i]);
      n.leafBlocks.push_back(nextBlock_);
      std::vector<Extent> none;
      HCS_RETURN_IF_ERROR(appendBlocks(block, &none, 0));
    }
  }
  header(iblock, 0, static_cast<uint16_t>(leaves), 4, 1);
  for (size_t l = 0; l < leaves; ++l) {
    size_t off = 12 + 12 * l;
    put<uint32_t>(iblock, off, n.extents[l * kExtentsPerLeaf].logical);
    put<uint32_t>(iblock, off + 4, static_cast<uint32_t>(n.leafBlocks[l]));
    put<uint16_t>(iblock, off + 8, static_cast<uint16_t>(n.leafBlocks[l] >> 32));
  }
  return OkStatus();
}

std::string CompactWriter::encodeInode(const Node& n) {
  std::string s(kInodeSize, '\0');
  const FileInfo& f = n.info;
  uint32_t type = f.mode & S_IFMT;
  uint64_t size = type == S_IFREG ? f.size : type == S_IFDIR ? n.dataBlocks() * kBlockSize : type == S_IFLNK ? n.target.size() : 0;
  uint64_t sectors = (n.dataBlocks() + n.leafBlocks.size() + (n.xattrBlock ? 1 : 0)) * (kBlockSize / 512);
  put<uint16_t>(s, 0, static_cast<uint16_t>(f.mode));
  put<uint16_t>(s, 2, static_cast<uint16_t>(f.uid));
  put<uint32_t>(s, 4, static_cast<uint32_t>(size));
  putTime(s, 8, 140, f.atime);
  putTime(s, 12, 132, f.ctime);
  putTime(s, 16, 136, f.mtime);
  put<uint16_t>(s, 24, static_cast<uint16_t>(f.gid));
  put<uint16_t>(s, 26, static_cast<uint16_t>(n.links));
  put<uint32_t>(s, 28, static_cast<uint32_t>(sectors));
  uint32_t flags = 0;
  std::string iblock(60, '\0');
  if (type == S_IFCHR || type == S_IFBLK) {
    if (f.devMajor < 256 && f.devMinor < 256) {
      put<uint32_t>(iblock, 0, (f.devMajor << 8) | f.devMinor);
    } else {
      put<uint32_t>(iblock, 4, (f.devMinor & 0xff) | (f.devMajor << 8) | ((f.devMinor & ~0xffu) << 12));
    }
  } else if (type == S_IFLNK && n.target.size() <= kFastSymlinkMax) {
    std::memcpy(iblock.data(), n.target.data(), n.target.size());
  } else if (n.isInline) {
    flags |= kFlagInlineData;
    std::memcpy(iblock.data(), n.inlineData.data(), std::min<size_t>(n.inlineData.size(), kInlineInBlock));
  } else if (type == S_IFREG || type == S_IFDIR || type == S_IFLNK) {
    flags |= kFlagExtents;  // i_block: the extent tree finish() encoded
  }
  put<uint32_t>(s, 32, flags);
  s.replace(40, 60, iblock);
  put<uint32_t>(s, 104, static_cast<uint32_t>(n.xattrBlock));
  put<uint32_t>(s, 108, static_cast<uint32_t>(size >> 32));
  put<uint16_t>(s, 116, static_cast<uint16_t>(sectors >> 32));
  put<uint16_t>(s, 118, static_cast<uint16_t>(n.xattrBlock >> 32));
  put<uint16_t>(s, 120, static_cast<uint16_t>(f.uid >> 16));
  put<uint16_t>(s, 122, static_cast<uint16_t>(f.gid >> 16));
  put<uint16_t>(s, 128, kExtraIsize);
  putTime(s, 144, 148, f.crtime);
  if (!n.inodeXattrs.empty()) {
    put<uint32_t>(s, kInodeXattrStart, kXattrMagic);
    writeXattrs(s, kInodeXattrStart + 4, kInodeXattrStart + 4, kInodeSize, n.inodeXattrs, false);
  }
  return s;
}

StatusOr<uint64_t> CompactWriter::finish() {
  if (finished_) return FailedPreconditionError("finish twice");
  HCS_RETURN_IF_ERROR(flushBlock());
  current_ = 0;
  finished_ = true;
  // Link counts: a directory has "." , its entry in its parent and each
  // child directory's "..".
  for (uint32_t ino = 0; ino < nodes_.size(); ++ino) {
    if (nodes_[ino] && nodes_[ino]->isDir()) nodes_[ino]->links = 2;
  }
  for (uint32_t ino = 0; ino < nodes_.size(); ++ino) {
    if (!nodes_[ino] || !nodes_[ino]->isDir()) continue;
    for (const auto& [name, child] : nodes_[ino]->children) {
      if (nodes_[child]->isDir()) ++nodes_[ino]->links;
    }
  }
  // Directory blocks, xattr blocks, extent leaves: after the file data.
  std::vector<std::string> iblocks(nodes_.size());
  for (uint32_t ino = 0; ino < nodes_.size(); ++ino) {
    if (!nodes_[ino]) continue;
    Node& n = *nodes_[ino];
    n.path = n.path.empty() ? "/" : n.path;
    if (n.isDir()) {
      n.extents.clear();
      HCS_RETURN_IF_ERROR(appendBlocks(directoryBlocks(ino), &n.extents, 0));
    }
    HCS_RETURN_IF_ERROR(placeXattrs(n));
    uint32_t type = n.info.mode & S_IFMT;
    bool extentMapped = !n.isInline && (type == S_IFREG || type == S_IFDIR || (type == S_IFLNK && n.target.size() > kFastSymlinkMax));
    if (extentMapped) {
      iblocks[ino].assign(60, '\0');
      HCS_RETURN_IF_ERROR(encodeExtents(n, iblocks[ino]));
    }
  }
  // Groups: as few as hold the blocks and the inodes; inodes per group a
  // multiple of 16 (whole inode-table blocks).
  uint64_t inodes = nodes_.size() - 1;
  uint64_t dataEnd = nextBlock_;
  uint64_t groups = std::max<uint64_t>(1, (dataEnd + kBlocksPerGroup - 1) / kBlocksPerGroup);
  uint64_t ipg = 0, total = 0, tableBlocks = 0;
  for (;; ++groups) {
    ipg = alignUp(static_cast<uint32_t>((inodes + groups - 1) / groups), 16);
    if (ipg > kBlocksPerGroup) continue;
    tableBlocks = groups * ipg * kInodeSize / kBlockSize;
    total = dataEnd + tableBlocks + 2 * groups;
    if ((total + kBlocksPerGroup - 1) / kBlocksPerGroup <= groups) break;
  }
  total = std::max<uint64_t>(total, (groups - 1) * kBlocksPerGroup + 1);
  if (groups * 32 > uint64_t{descriptorBlocks_} * kBlockSize || total * kBlockSize > options_.maximumDiskSize) {
    return ResourceExhaustedError("the image needs " + std::to_string(total) + " blocks and " + std::to_string(inodes) +
                                  " inodes: more than its maximum disk size of " + std::to_string(options_.maximumDiskSize) +
                                  " bytes holds");
  }
  uint64_t tableStart = dataEnd, bitmapStart = dataEnd + tableBlocks;
  // Which blocks are used: the superblock, descriptors, what inodes refer
  // to, the inode tables and the bitmaps (a replaced file's blocks are not).
  std::vector<uint8_t> used(total, 0);
  // Only the descriptor blocks the groups fill are in use: e2fsck counts
  // the rest of the space kept for the maximum size (no resize inode) free.
  uint64_t filledDescriptorBlocks = (groups * 32 + kBlockSize - 1) / kBlockSize;
  for (uint64_t b = 0; b < 1 + filledDescriptorBlocks; ++b) used[b] = 1;
  for (uint64_t b = tableStart; b < bitmapStart + 2 * groups; ++b) used[b] = 1;
  for (const auto& n : nodes_) {
    if (!n) continue;
    for (const auto& e : n->extents) std::fill(used.begin() + e.physical, used.begin() + e.physical + e.length, 1);
    for (uint64_t b : n->leafBlocks) used[b] = 1;
    if (n->xattrBlock) used[n->xattrBlock] = 1;
  }
  // Inode table.
  std::string table;
  table.reserve(static_cast<size_t>(std::min<uint64_t>(groups * ipg, 1 << 16) * kInodeSize));
  std::vector<uint8_t> inodeUsed(groups * ipg + 1, 0);
  std::vector<uint32_t> dirsInGroup(groups, 0);
  uint64_t written = 0;
  auto flushTable = [&]() -> Status {
    Status st = writeAt((tableStart * kBlockSize) + written, table);
    written += table.size();
    table.clear();
    return st;
  };
  for (uint64_t ino = 1; ino <= groups * ipg; ++ino) {
    bool reserved = ino < kFirstInode;
    if (ino < nodes_.size() && nodes_[ino]) {
      Node& n = *nodes_[ino];
      std::string inode = encodeInode(n);
      if (!iblocks[ino].empty()) inode.replace(40, 60, iblocks[ino]);
      table += inode;
      inodeUsed[ino] = 1;
      if (n.isDir()) ++dirsInGroup[(ino - 1) / ipg];
    } else {
      table.append(kInodeSize, '\0');
      if (reserved) inodeUsed[ino] = 1;
    }
    if (table.size() >= (1 << 20)) HCS_RETURN_IF_ERROR(flushTable());
  }
  HCS_RETURN_IF_ERROR(flushTable());
  // Bitmaps and group descriptors.
  std::string descriptors(uint64_t{descriptorBlocks_} * kBlockSize, '\0');
  uint64_t freeBlocks = 0, freeInodes = 0;
  for (uint64_t g = 0; g < groups; ++g) {
    std::string blockBitmap(kBlockSize, '\0'), inodeBitmap(kBlockSize, '\0');
    uint32_t freeB = 0, freeI = 0;
    for (uint32_t i = 0; i < kBlocksPerGroup; ++i) {
      uint64_t b = g * kBlocksPerGroup + i;
      bool set = b >= total || used[b];  // past the end counts as used
      if (set) blockBitmap[i / 8] = static_cast<char>(blockBitmap[i / 8] | (1 << (i % 8)));
      if (b < total && !used[b]) ++freeB;
    }
    for (uint32_t i = 0; i < kBlockSize * 8; ++i) {
      uint64_t ino = g * ipg + i + 1;
      bool set = i >= ipg || inodeUsed[ino];
      if (set) inodeBitmap[i / 8] = static_cast<char>(inodeBitmap[i / 8] | (1 << (i % 8)));
      if (i < ipg && !inodeUsed[ino]) ++freeI;
    }
    HCS_RETURN_IF_ERROR(writeAt((bitmapStart + 2 * g) * kBlockSize, blockBitmap));
    HCS_RETURN_IF_ERROR(writeAt((bitmapStart + 2 * g + 1) * kBlockSize, inodeBitmap));
    size_t d = g * 32;
    put<uint32_t>(descriptors, d, static_cast<uint32_t>(bitmapStart + 2 * g));
    put<uint32_t>(descriptors, d + 4, static_cast<uint32_t>(bitmapStart + 2 * g + 1));
    put<uint32_t>(descriptors, d + 8, static_cast<uint32_t>(tableStart + g * ipg * kInodeSize / kBlockSize));
    put<uint16_t>(descriptors, d + 12, static_cast<uint16_t>(freeB));
    put<uint16_t>(descriptors, d + 14, static_cast<uint16_t>(freeI));
    put<uint16_t>(descriptors, d + 16, static_cast<uint16_t>(dirsInGroup[g]));
    freeBlocks += freeB;
    freeInodes += freeI;
  }
  // Superblock.
  std::string sb(1024, '\0');
  put<uint32_t>(sb, 0, static_cast<uint32_t>(groups * ipg));
  put<uint32_t>(sb, 4, static_cast<uint32_t>(total));
  put<uint32_t>(sb, 12, static_cast<uint32_t>(freeBlocks));
  put<uint32_t>(sb, 16, static_cast<uint32_t>(freeInodes));
  put<uint32_t>(sb, 20, 0);  // first data block
  put<uint32_t>(sb, 24, 2);  // 1024 << 2
  put<uint32_t>(sb, 28, 2);
  put<uint32_t>(sb, 32, kBlocksPerGroup);
  put<uint32_t>(sb, 36, kBlocksPerGroup);
  put<uint32_t>(sb, 40, static_cast<uint32_t>(ipg));
  put<uint16_t>(sb, 54, 0xFFFF);  // max mount count: no forced checks
  put<uint16_t>(sb, 56, 0xEF53);
  put<uint16_t>(sb, 58, 1);  // clean
  put<uint16_t>(sb, 60, 1);  // errors: continue
  put<uint32_t>(sb, 76, 1);  // dynamic revision
  put<uint32_t>(sb, 84, kFirstInode);
  put<uint16_t>(sb, 88, kInodeSize);
  put<uint32_t>(sb, 92, 0x200 | 0x8);  // SPARSE_SUPER2 | EXT_ATTR
  put<uint32_t>(sb, 96, 0x2 | 0x40 | 0x200 | (options_.inlineData ? 0x8000 : 0));  // FILETYPE | EXTENTS | FLEX_BG [| INLINE_DATA]
  put<uint32_t>(sb, 100, 0x2 | 0x8 | 0x40 | 0x1000);  // LARGE_FILE | HUGE_FILE | EXTRA_ISIZE | READONLY
  put<uint16_t>(sb, 348, kExtraIsize);
  put<uint16_t>(sb, 350, kExtraIsize);
  sb[372] = 31;  // log groups per flex
  std::string head(kBlockSize, '\0');
  head.replace(1024, 1024, sb);
  HCS_RETURN_IF_ERROR(writeAt(0, head));
  HCS_RETURN_IF_ERROR(writeAt(kBlockSize, descriptors));
  if (::ftruncate(fd_, static_cast<off_t>(total * kBlockSize)) != 0) {
    return Status(Code::kUnavailable, std::string("sizing the image: ") + std::strerror(errno));
  }
  return total * kBlockSize;
}

}  // namespace hcsshim::ext4
