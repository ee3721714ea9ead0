#include "hcs_fake/qemu/plan9.h"

#include <signal.h>

#include <cstring>
#include <fstream>

#include "src/common/log.h"

namespace hcsshim::hcs_fake {

using runtime::Task;

namespace {

constexpr uint8_t kTauth = 102, kTattach = 104;
constexpr uint32_t kMaxMessage = 1 << 20;

uint32_t le32(std::string_view b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// luaString: a Lua string literal (diod.conf is Lua).
std::string luaString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

StatusOr<std::string> rewriteAttachName(std::string_view m, const std::function<std::string(const std::string&)>& lookup) {
  if (m.size() < 7) return InvalidArgumentError("9P message shorter than its header");
  uint8_t type = static_cast<uint8_t>(m[4]);
  if (type != kTattach && type != kTauth) return std::string(m);
  size_t at = 7 + (type == kTattach ? 8 : 4);  // fid + afid, or afid
  auto str = [&](size_t off, size_t* len) -> bool {
    if (off + 2 > m.size()) return false;
    uint16_t n;
    std::memcpy(&n, m.data() + off, 2);
    *len = n;
    return off + 2 + n <= m.size();
  };
  size_t ulen, alen;
  if (!str(at, &ulen) || !str(at + 2 + ulen, &alen)) {
    return InvalidArgumentError(std::string("9P ") + (type == kTattach ? "Tattach" : "Tauth") + ": truncated");
  }
  size_t aoff = at + 2 + ulen;
  std::string aname(m.substr(aoff + 2, alen));
  std::string path = lookup(aname);
  if (path.empty() || path.size() > 0xffff) return std::string(m);
  std::string out(m.substr(0, aoff));
  uint16_t plen = static_cast<uint16_t>(path.size());
  out.append(reinterpret_cast<const char*>(&plen), 2);
  out += path;
  out += m.substr(aoff + 2 + alen);
  uint32_t size = static_cast<uint32_t>(out.size());
  std::memcpy(out.data(), &size, 4);
  return out;
}

Plan9Server::Plan9Server(runtime::Runtime& rt, std::string diodPath, std::string dir, std::string listenPath)
    : rt_(rt), diodPath_(std::move(diodPath)), dir_(std::move(dir)), listenPath_(std::move(listenPath)) {}

Plan9Server::~Plan9Server() {
  *alive_ = false;
  if (listener_) listener_->close();
}

Status Plan9Server::start() {
  HCS_RETURN_IF_ERROR(writeConfig());
  auto l = rt_.transport().listen("unix://" + listenPath_);
  if (!l.ok()) return l.status();
  listener_ = std::move(*l);
  runtime::spawn(acceptLoop());
  return OkStatus();
}

Status Plan9Server::writeConfig() {
  std::string conf = "-- written by the fake HCS: this VM's Plan9 shares\nnwthreads = 2\nauth_required = 0\nexports = {\n";
  for (const auto& [name, s] : shares_) {
    conf += "  { path = " + luaString(s.path) + (s.readOnly ? ", opts = \"ro\"" : "") + " },\n";
  }
  conf += "}\n";
  std::string tmp = dir_ + "/diod.conf.tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << conf;
    if (!f.good()) return InternalError("writing " + tmp);
  }
  if (std::rename(tmp.c_str(), (dir_ + "/diod.conf").c_str()) != 0) return InternalError("renaming " + tmp);
  return OkStatus();
}

Status Plan9Server::add(const std::string& accessName, Plan9Share share) {
  if (share.path.empty() || share.path[0] != '/') return InvalidArgumentError("Settings.Path: want an absolute path");
  shares_[accessName] = std::move(share);
  return writeConfig();
}

Status Plan9Server::remove(const std::string& accessName) {
  if (!shares_.erase(accessName)) return NotFoundError("no Plan9 share " + accessName);
  return writeConfig();
}

Task<void> Plan9Server::acceptLoop() {
  auto alive = alive_;
  auto l = listener_;
  for (;;) {
    auto s = co_await l->accept();
    if (!*alive || !s.ok()) co_return;
    runtime::spawn(serve(std::move(*s)));
  }
}

Task<void> Plan9Server::serve(std::unique_ptr<runtime::Stream> guestStream) {
  auto alive = alive_;
  auto live = live_;
  std::shared_ptr<runtime::Stream> guest(std::move(guestStream));
  auto diod = rt_.processes().spawn(runtime::ProcessSpec{
      .path = diodPath_,
      .args = {diodPath_, "--foreground", "--no-auth", "--allsquash", "--squashuser", "root", "--config-file", dir_ + "/diod.conf",
               "--rfdno", "0", "--wfdno", "1", "--logdest", "stderr"},
      .stdinMode = runtime::StdioMode::kPipe,
      .stdoutMode = runtime::StdioMode::kPipe,
      .stderrMode = runtime::StdioMode::kPipe,
      .killOnParentDeath = true});
  if (!diod.ok()) {
    HLOG(Error, "hcs_fake.plan9.diod_failed").kv("error", diod.status().message());
    guest->close();
    co_return;
  }
  std::shared_ptr<runtime::Process> p(std::move(*diod));
  ++*live;
  // diod's log: one event per line (its SIGTERM goodbye at debug level).
  runtime::spawn([](std::shared_ptr<runtime::Process> p) -> Task<void> {
    std::string pending;
    char buf[1024];
    for (;;) {
      auto n = co_await p->stderrStream()->read(std::span<char>(buf, sizeof buf));
      if (!n.ok() || *n == 0) co_return;
      pending.append(buf, *n);
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        std::string line = pending.substr(0, nl);
        if (line.find("caught SIGTERM") != std::string::npos) {
          HLOG(Debug, "hcs_fake.plan9.diod").kv("pid", p->pid()).kv("line", line);
        } else {
          HLOG(Warn, "hcs_fake.plan9.diod").kv("pid", p->pid()).kv("line", line);
        }
      }
      if (pending.size() > 4096) pending.clear();
    }
  }(p));
  HLOG(Debug, "hcs_fake.plan9.connection").kv("diod_pid", p->pid());
  // diod -> guest: unchanged.
  runtime::spawn([](std::shared_ptr<runtime::Process> p, std::shared_ptr<runtime::Stream> guest) -> Task<void> {
    (void)co_await runtime::copyStream(*p->stdoutStream(), *guest);
    (void)guest->shutdownWrite();
  }(p, guest));
  // guest -> diod: message by message, attach names rewritten.
  std::string buf;
  char chunk[16384];
  auto shares = [this, alive](const std::string& name) -> std::string {
    if (!*alive) return "";
    auto it = shares_.find(name);
    return it == shares_.end() ? "" : it->second.path;
  };
  for (;;) {
    auto n = co_await guest->read(std::span<char>(chunk, sizeof chunk));
    if (!n.ok() || *n == 0) break;
    buf.append(chunk, *n);
    bool bad = false;
    while (buf.size() >= 4) {
      uint32_t size = le32(buf, 0);
      if (size < 7 || size > kMaxMessage) {
        HLOG(Warn, "hcs_fake.plan9.bad_message").kv("size", size);
        bad = true;
        break;
      }
      if (buf.size() < size) break;
      auto m = rewriteAttachName(std::string_view(buf).substr(0, size), shares);
      if (!m.ok()) {
        bad = true;
        break;
      }
      buf.erase(0, size);
      if (!(co_await p->stdinStream()->write(*m)).ok()) {
        bad = true;
        break;
      }
    }
    if (bad) break;
  }
  p->stdinStream()->close();
  guest->close();
  (void)p->signal(SIGTERM);
  (void)co_await p->wait();
  --*live;
}

}  // namespace hcsshim::hcs_fake
