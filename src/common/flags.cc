#include "src/common/flags.h"

#include <cerrno>
#include <cstdlib>

namespace hcsshim {

void FlagSet::string(std::string name, std::string* out, std::string help) {
  flags_.push_back({std::move(name), std::move(help), Kind::kString, out, nullptr});
}
void FlagSet::strings(std::string name, std::vector<std::string>* out, std::string help) {
  flags_.push_back({std::move(name), std::move(help), Kind::kStrings, out, nullptr});
}
void FlagSet::boolean(std::string name, bool* out, std::string help) {
  flags_.push_back({std::move(name), std::move(help), Kind::kBool, out, nullptr});
}
void FlagSet::integer(std::string name, int64_t* out, std::string help) {
  flags_.push_back({std::move(name), std::move(help), Kind::kInt, out, nullptr});
}
void FlagSet::custom(std::string name, std::function<Status(const std::string&)> fn, std::string help) {
  flags_.push_back({std::move(name), std::move(help), Kind::kCustom, nullptr, std::move(fn)});
}

FlagSet::Flag* FlagSet::find(const std::string& name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool FlagSet::seen(const std::string& name) const {
  for (auto& f : flags_) {
    if (f.name == name) return f.seen;
  }
  return false;
}

Status FlagSet::set(Flag& f, const std::string& value) {
  f.seen = true;
  switch (f.kind) {
    case Kind::kString:
      *static_cast<std::string*>(f.out) = value;
      return OkStatus();
    case Kind::kStrings:
      static_cast<std::vector<std::string>*>(f.out)->push_back(value);
      return OkStatus();
    case Kind::kBool:
      if (value == "true" || value == "1") {
        *static_cast<bool*>(f.out) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(f.out) = false;
      } else {
        return InvalidArgumentError("-" + f.name + ": want true or false, got \"" + value + "\"");
      }
      return OkStatus();
    case Kind::kInt: {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || errno != 0 || *end != '\0') {
        return InvalidArgumentError("-" + f.name + ": want a number, got \"" + value + "\"");
      }
      *static_cast<int64_t*>(f.out) = v;
      return OkStatus();
    }
    case Kind::kCustom: {
      Status st = f.fn(value);
      if (!st.ok()) return InvalidArgumentError("-" + f.name + ": " + st.message());
      return OkStatus();
    }
  }
  return InternalError("unreachable");
}

StatusOr<std::vector<std::string>> FlagSet::parse(int argc, const char* const* argv, ParseOptions options) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse(args, options);
}

StatusOr<std::vector<std::string>> FlagSet::parse(const std::vector<std::string>& args, ParseOptions options) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (options.stopAtPositional) {
        positional.insert(positional.end(), args.begin() + static_cast<long>(i), args.end());
        break;
      }
      positional.push_back(a);
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::string value;
    bool hasValue = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    Flag* f = find(name);
    if (!f) return InvalidArgumentError(program_ + ": unknown flag " + a);
    if (f->kind == Kind::kBool && !hasValue) {
      value = "true";
      hasValue = true;
    }
    if (!hasValue) {
      if (i + 1 >= args.size()) return InvalidArgumentError(program_ + ": flag -" + name + " needs a value");
      value = args[++i];
    }
    Status st = set(*f, value);
    if (!st.ok()) return InvalidArgumentError(program_ + ": " + st.message());
  }
  return positional;
}

std::string FlagSet::usage() const {
  std::string out;
  for (const auto& f : flags_) {
    std::string left = "  -" + f.name;
    if (f.kind != Kind::kBool) left += f.kind == Kind::kInt ? " N" : " VALUE";
    if (left.size() < 24) left.resize(24, ' ');
    else left += "  ";
    out += left + f.help + "\n";
  }
  return out;
}

}  // namespace hcsshim
