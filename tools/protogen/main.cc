// protogen: C++ classes for proto3 files on src/protobuf/runtime, for builds
// with no libprotobuf (the mingw-w64 Windows build: Debian ships none).
//
//   protogen [--namespace=NS] [--suffix=.pb] --descriptor_set=F... FILE.proto=OUT.h,OUT.cc...
//
// Reads FileDescriptorSets (protoc --descriptor_set_out; Bazel's proto_library
// makes them) with the host's libprotobuf and writes, for each FILE.proto
// named, its header and source to the paths given. The header is included as
// FILE<suffix>.h (src/x.proto -> "src/x.pb.h", as protoc's). The classes have the accessors protoc's C++
// generator gives (x(), set_x(), mutable_x(), has_x() for messages, x_size(),
// add_x(), kXFieldNumber, enum _IsValid/_Name) and MessageLite's
// Serialize/Parse calls; --namespace wraps everything in one more namespace
// (the compatibility test links both implementations).
// Refused with a message naming the file and element: proto2, oneofs
// (proto3 optional too), extensions, groups, and map keys of a float type.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace gp = google::protobuf;

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "protogen: " << msg << "\n";
  std::exit(1);
}

const std::set<std::string>& keywords() {
  static const std::set<std::string> k = {
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
      "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
      "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
      "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
      "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
      "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
      "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
      "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq"};
  return k;
}

// Names some C libraries define as object-like macros (mingw-w64's stdio.h:
// stdin/stdout/stderr); the generated header undefines them around its
// declarations and restores them after.
const std::vector<std::string>& macroNames() {
  static const std::vector<std::string> m = {"stdin", "stdout", "stderr", "errno"};
  return m;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// protoc's accessor name: the field name lowercased, "_" after a keyword.
std::string fieldName(const gp::FieldDescriptor* f) {
  std::string n = lower(f->name());
  if (keywords().count(n)) n += "_";
  return n;
}

// kFooBarFieldNumber for foo_bar (protoc: underscores to camel case).
std::string camel(const std::string& name) {
  std::string out;
  bool up = true;
  for (char c : name) {
    if (c == '_') {
      up = true;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      out += c;
      up = true;
    } else {
      out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      up = false;
    }
  }
  return out;
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

class Generator {
 public:
  Generator(std::string ns, std::string suffix) : outerNs_(std::move(ns)), suffix_(std::move(suffix)) {}

  // "a.b.C.D" -> "::ns::a::b::C_D".
  template <typename D>
  std::string qualified(const D* d) const {
    std::string pkg = d->file()->package();
    std::string local = d->full_name().substr(pkg.empty() ? 0 : pkg.size() + 1);
    std::string out = "::";
    if (!outerNs_.empty()) out += outerNs_ + "::";
    if (!pkg.empty()) out += replaceAll(pkg, ".", "::") + "::";
    return out + replaceAll(local, ".", "_");
  }
  template <typename D>
  std::string local(const D* d) const {
    std::string pkg = d->file()->package();
    return replaceAll(d->full_name().substr(pkg.empty() ? 0 : pkg.size() + 1), ".", "_");
  }

  std::string codec(const gp::FieldDescriptor* f) const {
    switch (f->type()) {
      case gp::FieldDescriptor::TYPE_INT32: return "::hcsshim::pbrt::codec::Int32";
      case gp::FieldDescriptor::TYPE_INT64: return "::hcsshim::pbrt::codec::Int64";
      case gp::FieldDescriptor::TYPE_UINT32: return "::hcsshim::pbrt::codec::UInt32";
      case gp::FieldDescriptor::TYPE_UINT64: return "::hcsshim::pbrt::codec::UInt64";
      case gp::FieldDescriptor::TYPE_SINT32: return "::hcsshim::pbrt::codec::SInt32";
      case gp::FieldDescriptor::TYPE_SINT64: return "::hcsshim::pbrt::codec::SInt64";
      case gp::FieldDescriptor::TYPE_FIXED32: return "::hcsshim::pbrt::codec::Fixed32";
      case gp::FieldDescriptor::TYPE_FIXED64: return "::hcsshim::pbrt::codec::Fixed64";
      case gp::FieldDescriptor::TYPE_SFIXED32: return "::hcsshim::pbrt::codec::SFixed32";
      case gp::FieldDescriptor::TYPE_SFIXED64: return "::hcsshim::pbrt::codec::SFixed64";
      case gp::FieldDescriptor::TYPE_FLOAT: return "::hcsshim::pbrt::codec::Float";
      case gp::FieldDescriptor::TYPE_DOUBLE: return "::hcsshim::pbrt::codec::Double";
      case gp::FieldDescriptor::TYPE_BOOL: return "::hcsshim::pbrt::codec::Bool";
      case gp::FieldDescriptor::TYPE_STRING: return "::hcsshim::pbrt::codec::String";
      case gp::FieldDescriptor::TYPE_BYTES: return "::hcsshim::pbrt::codec::Bytes";
      case gp::FieldDescriptor::TYPE_ENUM: return "::hcsshim::pbrt::codec::Enum<" + qualified(f->enum_type()) + ">";
      case gp::FieldDescriptor::TYPE_MESSAGE: return "::hcsshim::pbrt::codec::Message<" + qualified(f->message_type()) + ">";
      case gp::FieldDescriptor::TYPE_GROUP: break;
    }
    die("groups are not supported: " + f->full_name());
  }

  std::string valueType(const gp::FieldDescriptor* f) const {
    switch (f->cpp_type()) {
      case gp::FieldDescriptor::CPPTYPE_INT32: return "int32_t";
      case gp::FieldDescriptor::CPPTYPE_INT64: return "int64_t";
      case gp::FieldDescriptor::CPPTYPE_UINT32: return "uint32_t";
      case gp::FieldDescriptor::CPPTYPE_UINT64: return "uint64_t";
      case gp::FieldDescriptor::CPPTYPE_FLOAT: return "float";
      case gp::FieldDescriptor::CPPTYPE_DOUBLE: return "double";
      case gp::FieldDescriptor::CPPTYPE_BOOL: return "bool";
      case gp::FieldDescriptor::CPPTYPE_ENUM: return qualified(f->enum_type());
      case gp::FieldDescriptor::CPPTYPE_STRING: return "std::string";
      case gp::FieldDescriptor::CPPTYPE_MESSAGE: return qualified(f->message_type());
    }
    die("unknown type: " + f->full_name());
  }

  void check(const gp::FileDescriptor* file) {
    if (file->syntax() != gp::FileDescriptor::SYNTAX_PROTO3) die(file->name() + ": only proto3 is supported");
    if (file->extension_count() > 0) die(file->name() + ": extensions are not supported");
    std::vector<const gp::Descriptor*> all;
    collect(file, &all);
    for (const auto* m : all) {
      if (m->oneof_decl_count() > 0) die(m->full_name() + ": oneof (and proto3 optional) is not supported");
      if (m->extension_count() > 0 || m->extension_range_count() > 0)
        die(m->full_name() + ": extensions are not supported");
      for (int i = 0; i < m->field_count(); ++i) {
        const auto* f = m->field(i);
        codec(f);
        if (f->is_map()) {
          auto kt = f->message_type()->map_key()->cpp_type();
          if (kt == gp::FieldDescriptor::CPPTYPE_FLOAT || kt == gp::FieldDescriptor::CPPTYPE_DOUBLE)
            die(f->full_name() + ": float map keys are not allowed");
        }
      }
    }
  }

  // Messages, nested ones first; map entries are not classes (maps are Map<K, V>).
  static void collect(const gp::Descriptor* m, std::vector<const gp::Descriptor*>* out) {
    if (m->options().map_entry()) return;
    for (int i = 0; i < m->nested_type_count(); ++i) collect(m->nested_type(i), out);
    out->push_back(m);
  }
  static void collect(const gp::FileDescriptor* f, std::vector<const gp::Descriptor*>* out) {
    for (int i = 0; i < f->message_type_count(); ++i) collect(f->message_type(i), out);
  }
  static void collectEnums(const gp::Descriptor* m, std::vector<const gp::EnumDescriptor*>* out) {
    for (int i = 0; i < m->enum_type_count(); ++i) out->push_back(m->enum_type(i));
    for (int i = 0; i < m->nested_type_count(); ++i) collectEnums(m->nested_type(i), out);
  }

  std::string headerName(const std::string& proto) const {
    return proto.substr(0, proto.size() - std::string(".proto").size()) + suffix_ + ".h";
  }

  void generate(const gp::FileDescriptor* file, std::string* h, std::string* cc) {
    check(file);
    std::vector<const gp::Descriptor*> messages;
    collect(file, &messages);
    std::vector<const gp::EnumDescriptor*> enums;
    for (int i = 0; i < file->enum_type_count(); ++i) enums.push_back(file->enum_type(i));
    for (int i = 0; i < file->message_type_count(); ++i) collectEnums(file->message_type(i), &enums);

    std::ostringstream o;
    o << "// Generated by tools/protogen from " << file->name() << ". Do not edit.\n#pragma once\n\n"
      << "#include <cstdint>\n#include <string>\n#include <string_view>\n\n"
      << "#include \"src/protobuf/runtime/codecs.h\"\n";
    for (int i = 0; i < file->dependency_count(); ++i) o << "#include \"" << headerName(file->dependency(i)->name()) << "\"\n";
    std::vector<std::string> macros;
    for (const auto* m : messages)
      for (int i = 0; i < m->field_count(); ++i)
        for (const auto& name : macroNames())
          if (fieldName(m->field(i)) == name && std::find(macros.begin(), macros.end(), name) == macros.end())
            macros.push_back(name);
    for (const auto& m : macros) o << "\n#pragma push_macro(\"" << m << "\")\n#undef " << m;
    o << "\n\n" << openNs(file);
    for (const auto* m : messages) o << "class " << local(m) << ";\n";
    for (const auto* e : enums) enumDecl(o, e);
    for (const auto* m : messages) classDecl(o, m);
    for (const auto* m : messages) inlineBodies(o, m);
    o << closeNs(file);
    for (auto it = macros.rbegin(); it != macros.rend(); ++it) o << "\n#pragma pop_macro(\"" << *it << "\")";
    o << "\n";
    *h = o.str();

    std::ostringstream c;
    c << "// Generated by tools/protogen from " << file->name() << ". Do not edit.\n"
      << "#include \"" << headerName(file->name()) << "\"\n\n";
    for (const auto& m : macros) c << "#pragma push_macro(\"" << m << "\")\n#undef " << m << "\n";
    c << openNs(file);
    for (const auto* e : enums) enumBodies(c, e);
    for (const auto* m : messages) outOfLine(c, m);
    c << closeNs(file);
    for (auto it = macros.rbegin(); it != macros.rend(); ++it) c << "#pragma pop_macro(\"" << *it << "\")\n";
    *cc = c.str();
  }

 private:
  std::string openNs(const gp::FileDescriptor* f) const {
    std::string ns = outerNs_;
    if (!f->package().empty()) ns += (ns.empty() ? "" : "::") + replaceAll(f->package(), ".", "::");
    return ns.empty() ? "" : "namespace " + ns + " {\n\n";
  }
  std::string closeNs(const gp::FileDescriptor* f) const {
    return (outerNs_.empty() && f->package().empty()) ? "" : "\n}  // namespace\n";
  }

  void enumDecl(std::ostringstream& o, const gp::EnumDescriptor* e) {
    std::string n = local(e);
    std::string prefix = e->containing_type() ? n + "_" : "";
    int lo = e->value(0)->number(), hi = lo;
    o << "enum " << n << " : int {\n";
    for (int i = 0; i < e->value_count(); ++i) {
      const auto* v = e->value(i);
      o << "  " << prefix << v->name() << " = " << v->number() << ",\n";
      lo = std::min(lo, v->number());
      hi = std::max(hi, v->number());
    }
    o << "};\n";
    o << "bool " << n << "_IsValid(int value);\n";
    o << "const std::string& " << n << "_Name(" << n << " value);\n";
    o << "bool " << n << "_Parse(std::string_view name, " << n << "* value);\n";
    o << "inline constexpr " << n << " " << n << "_MIN = static_cast<" << n << ">(" << lo << ");\n";
    o << "inline constexpr " << n << " " << n << "_MAX = static_cast<" << n << ">(" << hi << ");\n";
    o << "inline constexpr int " << n << "_ARRAYSIZE = " << hi << " + 1;\n\n";
  }

  void enumBodies(std::ostringstream& c, const gp::EnumDescriptor* e) {
    std::string n = local(e);
    c << "bool " << n << "_IsValid(int value) {\n  switch (value) {\n";
    std::set<int> seen;
    for (int i = 0; i < e->value_count(); ++i)
      if (seen.insert(e->value(i)->number()).second) c << "    case " << e->value(i)->number() << ":\n";
    c << "      return true;\n    default:\n      return false;\n  }\n}\n\n";
    c << "const std::string& " << n << "_Name(" << n << " value) {\n  static const std::string kEmpty;\n";
    seen.clear();
    for (int i = 0; i < e->value_count(); ++i) {
      const auto* v = e->value(i);
      if (!seen.insert(v->number()).second) continue;
      c << "  if (static_cast<int>(value) == " << v->number() << ") {\n    static const std::string s = \"" << v->name()
        << "\";\n    return s;\n  }\n";
    }
    c << "  return kEmpty;\n}\n\n";
    c << "bool " << n << "_Parse(std::string_view name, " << n << "* value) {\n";
    for (int i = 0; i < e->value_count(); ++i) {
      const auto* v = e->value(i);
      c << "  if (name == \"" << v->name() << "\") {\n    *value = static_cast<" << n << ">(" << v->number()
        << ");\n    return true;\n  }\n";
    }
    c << "  return false;\n}\n\n";
  }

  std::string memberName(const gp::FieldDescriptor* f) const { return lower(f->name()) + "_field_"; }

  std::string storage(const gp::FieldDescriptor* f) const {
    if (f->is_map()) {
      return "::hcsshim::pbrt::Map<" + valueType(f->message_type()->map_key()) + ", " +
             valueType(f->message_type()->map_value()) + ">";
    }
    bool ptr = f->cpp_type() == gp::FieldDescriptor::CPPTYPE_STRING ||
               f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE;
    if (f->is_repeated()) return std::string(ptr ? "::hcsshim::pbrt::RepeatedPtrField<" : "::hcsshim::pbrt::RepeatedField<") + valueType(f) + ">";
    if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) return "::hcsshim::pbrt::Owned<" + valueType(f) + ">";
    return valueType(f);
  }

  std::string init(const gp::FieldDescriptor* f) const {
    if (f->is_repeated() || f->cpp_type() == gp::FieldDescriptor::CPPTYPE_STRING ||
        f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE)
      return "";
    return "{}";
  }

  void classDecl(std::ostringstream& o, const gp::Descriptor* m) {
    std::string n = local(m);
    o << "class " << n << " final : public ::hcsshim::pbrt::MessageLite {\n public:\n";
    o << "  " << n << "() = default;\n";
    o << "  std::string GetTypeName() const override { return \"" << m->full_name() << "\"; }\n";
    o << "  void Clear() override;\n";
    o << "  void serializeTo(::hcsshim::pbrt::Writer& w) const override;\n";
    o << "  bool mergeFrom(::hcsshim::pbrt::Reader& r) override;\n";
    o << "  static const " << n << "& default_instance();\n";
    o << "  void CopyFrom(const " << n << "& from) { *this = from; }\n";
    o << "  void MergeFrom(const " << n << "& from);\n";
    o << "  void Swap(" << n << "* other) { std::swap(*this, *other); }\n\n";
    for (int i = 0; i < m->nested_type_count(); ++i) {
      const auto* t = m->nested_type(i);
      if (!t->options().map_entry()) o << "  using " << t->name() << " = " << local(t) << ";\n";
    }
    for (int i = 0; i < m->enum_type_count(); ++i) {
      const auto* e = m->enum_type(i);
      std::string en = local(e);
      o << "  using " << e->name() << " = " << en << ";\n";
      for (int j = 0; j < e->value_count(); ++j)
        o << "  static constexpr " << en << " " << e->value(j)->name() << " = " << en << "_" << e->value(j)->name() << ";\n";
      o << "  static bool " << e->name() << "_IsValid(int v) { return " << en << "_IsValid(v); }\n";
      o << "  static const std::string& " << e->name() << "_Name(" << en << " v) { return " << en << "_Name(v); }\n";
    }
    for (int i = 0; i < m->field_count(); ++i) fieldDecl(o, m->field(i));
    o << "\n private:\n";
    for (int i = 0; i < m->field_count(); ++i) {
      const auto* f = m->field(i);
      o << "  " << storage(f) << " " << memberName(f) << init(f) << ";\n";
    }
    o << "  std::string unknown_fields_;\n};\n\n";
  }

  void fieldDecl(std::ostringstream& o, const gp::FieldDescriptor* f) {
    std::string n = fieldName(f), mem = memberName(f), t = valueType(f);
    o << "\n  static constexpr int k" << camel(f->name()) << "FieldNumber = " << f->number() << ";\n";
    if (f->is_map()) {
      std::string s = storage(f);
      o << "  const " << s << "& " << n << "() const { return " << mem << "; }\n";
      o << "  " << s << "* mutable_" << n << "() { return &" << mem << "; }\n";
      o << "  int " << n << "_size() const { return static_cast<int>(" << mem << ".size()); }\n";
      o << "  void clear_" << n << "() { " << mem << ".clear(); }\n";
      return;
    }
    bool isString = f->cpp_type() == gp::FieldDescriptor::CPPTYPE_STRING;
    bool isMessage = f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE;
    if (f->is_repeated()) {
      std::string s = storage(f);
      o << "  const " << s << "& " << n << "() const { return " << mem << "; }\n";
      o << "  " << s << "* mutable_" << n << "() { return &" << mem << "; }\n";
      o << "  int " << n << "_size() const { return " << mem << ".size(); }\n";
      o << "  void clear_" << n << "() { " << mem << ".Clear(); }\n";
      if (isString || isMessage) {
        o << "  const " << t << "& " << n << "(int i) const { return " << mem << ".Get(i); }\n";
        o << "  " << t << "* mutable_" << n << "(int i) { return " << mem << ".Mutable(i); }\n";
        o << "  " << t << "* add_" << n << "() { return " << mem << ".Add(); }\n";
        if (isString) {
          o << "  void add_" << n << "(std::string v) { *" << mem << ".Add() = std::move(v); }\n";
          o << "  void add_" << n << "(const char* v) { *" << mem << ".Add() = v; }\n";
          o << "  void set_" << n << "(int i, std::string v) { *" << mem << ".Mutable(i) = std::move(v); }\n";
        }
      } else {
        o << "  " << t << " " << n << "(int i) const { return " << mem << ".Get(i); }\n";
        o << "  void add_" << n << "(" << t << " v) { " << mem << ".Add(v); }\n";
        o << "  void set_" << n << "(int i, " << t << " v) { " << mem << ".Set(i, v); }\n";
      }
      return;
    }
    if (isMessage) {
      o << "  bool has_" << n << "() const { return " << mem << ".get() != nullptr; }\n";
      o << "  const " << t << "& " << n << "() const;\n";
      o << "  " << t << "* mutable_" << n << "() { return " << mem << ".mutableGet(); }\n";
      o << "  void clear_" << n << "() { " << mem << ".reset(); }\n";
      o << "  " << t << "* release_" << n << "() { return " << mem << ".release(); }\n";
      o << "  void set_allocated_" << n << "(" << t << "* v) { " << mem << ".reset(v); }\n";
      return;
    }
    if (isString) {
      o << "  const std::string& " << n << "() const { return " << mem << "; }\n";
      o << "  void set_" << n << "(std::string v) { " << mem << " = std::move(v); }\n";
      o << "  void set_" << n << "(const char* v) { " << mem << " = v; }\n";
      o << "  void set_" << n << "(const char* v, size_t size) { " << mem << ".assign(v, size); }\n";
      o << "  std::string* mutable_" << n << "() { return &" << mem << "; }\n";
      o << "  void clear_" << n << "() { " << mem << ".clear(); }\n";
      return;
    }
    o << "  " << t << " " << n << "() const { return " << mem << "; }\n";
    o << "  void set_" << n << "(" << t << " v) { " << mem << " = v; }\n";
    o << "  void clear_" << n << "() { " << mem << " = {}; }\n";
  }

  void inlineBodies(std::ostringstream& o, const gp::Descriptor* m) {
    std::string n = local(m);
    for (int i = 0; i < m->field_count(); ++i) {
      const auto* f = m->field(i);
      if (f->is_repeated() || f->cpp_type() != gp::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      std::string t = valueType(f), mem = memberName(f);
      o << "inline const " << t << "& " << n << "::" << fieldName(f) << "() const {\n  return " << mem
        << ".get() != nullptr ? *" << mem << ".get() : " << t << "::default_instance();\n}\n";
    }
  }

  std::vector<const gp::FieldDescriptor*> byNumber(const gp::Descriptor* m) const {
    std::vector<const gp::FieldDescriptor*> fs;
    for (int i = 0; i < m->field_count(); ++i) fs.push_back(m->field(i));
    std::sort(fs.begin(), fs.end(), [](auto* a, auto* b) { return a->number() < b->number(); });
    return fs;
  }

  void outOfLine(std::ostringstream& c, const gp::Descriptor* m) {
    std::string n = local(m);
    c << "const " << n << "& " << n << "::default_instance() {\n  static const " << n << "* const d = new " << n
      << "();\n  return *d;\n}\n\n";
    c << "void " << n << "::MergeFrom(const " << n << "& from) {\n  if (&from == this) return;\n"
      << "  (void)MergeFromString(from.SerializeAsString());\n}\n\n";
    c << "void " << n << "::Clear() {\n";
    for (int i = 0; i < m->field_count(); ++i) c << "  clear_" << fieldName(m->field(i)) << "();\n";
    c << "  unknown_fields_.clear();\n}\n\n";

    c << "void " << n << "::serializeTo(::hcsshim::pbrt::Writer& w) const {\n";
    if (m->field_count() == 0) c << "  (void)w;\n";
    for (const auto* f : byNumber(m)) {
      std::string mem = memberName(f), num = std::to_string(f->number());
      if (f->is_map()) {
        c << "  ::hcsshim::pbrt::writeMap<" << codec(f->message_type()->map_key()) << ", "
          << codec(f->message_type()->map_value()) << ">(w, " << num << ", " << mem << ");\n";
      } else if (f->is_repeated()) {
        c << "  ::hcsshim::pbrt::writeRepeated<" << codec(f) << ">(w, " << num << ", " << mem << ");\n";
      } else if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
        c << "  ::hcsshim::pbrt::writeMessage(w, " << num << ", " << mem << ");\n";
      } else {
        c << "  ::hcsshim::pbrt::writeSingular<" << codec(f) << ">(w, " << num << ", " << mem << ");\n";
      }
    }
    c << "  w.raw(unknown_fields_);\n}\n\n";

    c << "bool " << n << "::mergeFrom(::hcsshim::pbrt::Reader& r) {\n  while (!r.atEnd()) {\n"
      << "    uint32_t field;\n    ::hcsshim::pbrt::WireType type;\n    if (!r.tag(&field, &type)) return false;\n";
    if (m->field_count() > 0) {
      c << "    switch (field) {\n";
      for (const auto* f : byNumber(m)) {
        std::string mem = memberName(f), cd = codec(f);
        c << "      case " << f->number() << ":\n";
        if (f->is_map()) {
          c << "        if (type == ::hcsshim::pbrt::WireType::kLength) {\n          if (!::hcsshim::pbrt::readMap<"
            << codec(f->message_type()->map_key()) << ", " << codec(f->message_type()->map_value()) << ">(r, &" << mem
            << ")) return false;\n          continue;\n        }\n        break;\n";
        } else if (f->is_repeated() && f->is_packable()) {
          c << "        if (type == " << cd << "::kWire || type == ::hcsshim::pbrt::WireType::kLength) {\n"
            << "          if (!::hcsshim::pbrt::readRepeated<" << cd << ">(r, type, &" << mem << ")) return false;\n"
            << "          continue;\n        }\n        break;\n";
        } else if (f->is_repeated()) {
          c << "        if (type == " << cd << "::kWire) {\n          if (!::hcsshim::pbrt::readRepeated<" << cd << ">(r, &"
            << mem << ")) return false;\n          continue;\n        }\n        break;\n";
        } else if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
          c << "        if (type == ::hcsshim::pbrt::WireType::kLength) {\n          if (!" << cd << "::read(r, " << mem
            << ".mutableGet())) return false;\n          continue;\n        }\n        break;\n";
        } else {
          c << "        if (type == " << cd << "::kWire) {\n          if (!" << cd << "::read(r, &" << mem
            << ")) return false;\n          continue;\n        }\n        break;\n";
        }
      }
      c << "      default:\n        break;\n    }\n";
    }
    c << "    if (!::hcsshim::pbrt::readUnknown(r, field, type, &unknown_fields_)) return false;\n  }\n  return true;\n}\n\n";
  }

  std::string outerNs_;
  std::string suffix_;
};

bool readFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

bool writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string ns, suffix = ".pb";
  std::vector<std::string> sets, files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--namespace=")) {
      ns = v;
    } else if (const char* v = value("--suffix=")) {
      suffix = v;
    } else if (const char* v = value("--descriptor_set=")) {
      sets.push_back(v);
    } else if (a.size() > 1 && a[0] == '-') {
      die("unknown flag " + a);
    } else {
      files.push_back(a);
    }
  }
  if (sets.empty() || files.empty())
    die("usage: protogen [--namespace=NS] [--suffix=.pb] --descriptor_set=F... FILE.proto=OUT.h,OUT.cc...");

  gp::SimpleDescriptorDatabase db;
  std::set<std::string> added;
  for (const auto& path : sets) {
    std::string data;
    gp::FileDescriptorSet set;
    if (!readFile(path, &data)) die("cannot read " + path);
    if (!set.ParseFromString(data)) die(path + " is not a FileDescriptorSet");
    for (const auto& f : set.file())
      if (added.insert(f.name()).second && !db.Add(f)) die(path + ": cannot add " + f.name());
  }
  gp::DescriptorPool pool(&db);
  Generator gen(ns, suffix);
  for (const auto& spec : files) {
    size_t eq = spec.find('='), comma = spec.find(',', eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || comma == std::string::npos) die("expected FILE.proto=OUT.h,OUT.cc, got " + spec);
    std::string name = spec.substr(0, eq), hPath = spec.substr(eq + 1, comma - eq - 1), ccPath = spec.substr(comma + 1);
    const gp::FileDescriptor* file = pool.FindFileByName(name);
    if (file == nullptr) die(name + " is in none of the descriptor sets (or does not build)");
    std::string h, cc;
    gen.generate(file, &h, &cc);
    if (!writeFile(hPath, h)) die("cannot write " + hPath);
    if (!writeFile(ccPath, cc)) die("cannot write " + ccPath);
  }
  return 0;
}
