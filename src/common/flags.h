// flags.h: the command-line parser every binary of the project uses.
//
// Flags match by their whole name, with one or two dashes, the value either
// joined with '=' or in the next argument:
//   -address X   --address X   -address=X   --address=X
// A boolean flag takes no separate value (`-debug`); `-debug=false` sets it
// explicitly. `--gcs-debug` is never read as `--gcs` followed by a value
// (the bug this parser exists for). Unknown flags, a missing value and a
// malformed number are errors naming the flag. `--` ends the flags.
//
//   FlagSet flags("hcs_fake");
//   std::string address = "unix:///tmp/hcs.sock";
//   bool debug = false;
//   flags.string("address", &address, "the socket to serve on");
//   flags.boolean("debug", &debug, "log debug events");
//   auto args = flags.parse(argc, argv);          // positional arguments
//   if (!args.ok()) { fprintf(stderr, "%s\n%s", args.status().message().c_str(), flags.usage().c_str()); return 2; }
//
// Subcommand tools call parse with stopAtPositional so that what follows the
// verb (`shimdiag exec -- ls -l`) is left alone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "src/common/status.h"

namespace hcsshim {

struct FlagParseOptions {
  // stopAtPositional: the first non-flag argument and everything after it
  // are positional (a verb and its own arguments).
  bool stopAtPositional = false;
};

class FlagSet {
 public:
  explicit FlagSet(std::string program) : program_(std::move(program)) {}

  void string(std::string name, std::string* out, std::string help);
  // strings: a repeatable flag; each use appends.
  void strings(std::string name, std::vector<std::string>* out, std::string help);
  void boolean(std::string name, bool* out, std::string help);
  void integer(std::string name, int64_t* out, std::string help);
  // custom: a flag with a value handed to fn (its error is the parse error).
  void custom(std::string name, std::function<Status(const std::string&)> fn, std::string help);

  using ParseOptions = FlagParseOptions;
  // parse reads argv[1..argc); returns the positional arguments.
  // InvalidArgument names the offending flag.
  StatusOr<std::vector<std::string>> parse(int argc, const char* const* argv, ParseOptions options);
  StatusOr<std::vector<std::string>> parse(int argc, const char* const* argv) {
    return parse(argc, argv, FlagParseOptions{});
  }
  StatusOr<std::vector<std::string>> parse(const std::vector<std::string>& args,
                                           FlagParseOptions options = FlagParseOptions{});

  // usage: one line per flag ("  -name VALUE  help").
  std::string usage() const;
  // seen: the flag was given on the command line.
  bool seen(const std::string& name) const;

 private:
  enum class Kind { kString, kStrings, kBool, kInt, kCustom };
  struct Flag {
    std::string name, help;
    Kind kind;
    void* out;
    std::function<Status(const std::string&)> fn;
    bool seen = false;
  };
  Flag* find(const std::string& name);
  Status set(Flag& f, const std::string& value);
  std::string program_;
  std::vector<Flag> flags_;
};

}  // namespace hcsshim
