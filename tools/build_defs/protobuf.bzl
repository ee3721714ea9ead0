"""C++ for .proto files: libprotobuf's (protoc) or protogen's, by configuration.

    hcs_cc_proto_library(name = "task_cc_proto", proto = ":task_proto",
                         deps = [":types_cc_proto", "//src/protobuf:wkt_cc_proto"])

gives `task_cc_proto`, which is
  - protoc's C++ over libprotobuf-lite (native cc_proto_library) normally;
  - tools/protogen's classes over src/protobuf/runtime on Windows (mingw-w64:
    Debian has no libprotobuf for it) and wherever //src/protobuf:protogen is
    true.
Both are included as "<dir>/<file>.pb.h" and have the same C++ API for what
this project uses, so code compiles against either. `deps` are the
hcs_cc_proto_library targets of the proto's imports (the generated headers
include theirs).

`<name>_compat` is protogen's version in namespace `protogen` with headers
"<file>.protogen.h", so that one test binary can hold both implementations
(//src/protobuf:protogen_compat_test).
"""

def _protogen_impl(ctx):
    info = ctx.attr.proto[ProtoInfo]
    pkg = ctx.label.package
    args = ctx.actions.args()
    if ctx.attr.namespace:
        args.add("--namespace=" + ctx.attr.namespace)
    args.add("--suffix=" + ctx.attr.suffix)
    sets = info.transitive_descriptor_sets
    for s in sets.to_list():
        args.add("--descriptor_set=" + s.path)
    hdrs = []
    srcs = []
    for src in info.direct_sources:
        path = src.short_path
        if not path.startswith(pkg + "/"):
            fail("protogen: %s is not under %s" % (path, pkg))
        rel = path[len(pkg) + 1:-len(".proto")]
        h = ctx.actions.declare_file(ctx.attr.out_dir + "/" + rel + ctx.attr.suffix + ".h")
        cc = ctx.actions.declare_file(ctx.attr.out_dir + "/" + rel + ctx.attr.suffix + ".cc")
        args.add("%s=%s,%s" % (path, h.path, cc.path))
        hdrs.append(h)
        srcs.append(cc)
    ctx.actions.run(
        executable = ctx.executable._protogen,
        arguments = [args],
        inputs = sets,
        outputs = hdrs + srcs,
        mnemonic = "Protogen",
        progress_message = "protogen %s" % ctx.label,
    )
    return [
        DefaultInfo(files = depset(hdrs + srcs)),
        OutputGroupInfo(hdrs = depset(hdrs), srcs = depset(srcs)),
    ]

_protogen = rule(
    implementation = _protogen_impl,
    attrs = {
        "proto": attr.label(providers = [ProtoInfo], mandatory = True),
        "namespace": attr.string(),
        "suffix": attr.string(default = ".pb"),
        "out_dir": attr.string(mandatory = True),
        "_protogen": attr.label(default = "//tools/protogen", executable = True, cfg = "exec"),
    },
)

def _protogen_cc(name, proto, deps, namespace, suffix, out_dir, **kwargs):
    _protogen(name = name + "_gen", proto = proto, namespace = namespace, suffix = suffix, out_dir = out_dir, **kwargs)
    native.filegroup(name = name + "_hdrs", srcs = [":" + name + "_gen"], output_group = "hdrs", **kwargs)
    native.filegroup(name = name + "_srcs", srcs = [":" + name + "_gen"], output_group = "srcs", **kwargs)
    native.cc_library(
        name = name,
        srcs = [":" + name + "_srcs"],
        hdrs = [":" + name + "_hdrs"],
        strip_include_prefix = out_dir,
        include_prefix = native.package_name(),
        deps = deps + ["//src/protobuf/runtime"],
        copts = ["-Wall", "-Wextra", "-Werror"],
        **kwargs
    )

def hcs_cc_proto_library(name, proto, deps = [], visibility = None, testonly = None):
    native.cc_proto_library(name = name + "_libprotobuf", deps = [proto], testonly = testonly, visibility = ["//src/protobuf:__pkg__"])
    _protogen_cc(name + "_protogen", proto, [d + "_protogen" for d in deps], "", ".pb", "_protogen_" + name, testonly = testonly)
    native.alias(
        name = name,
        actual = select({
            "//src/protobuf:protogen_windows": ":" + name + "_protogen",
            "//src/protobuf:protogen_flag": ":" + name + "_protogen",
            "//conditions:default": ":" + name + "_libprotobuf",
        }),
        visibility = visibility or ["//visibility:public"],
        testonly = testonly,
    )
    _protogen_cc(
        name + "_compat",
        proto,
        [d + "_compat" for d in deps],
        "protogen",
        ".protogen",
        "_compat_" + name,
        testonly = True,
        visibility = ["//visibility:public"],
    )

def _flag_impl(_ctx):
    return []

bool_flag = rule(implementation = _flag_impl, build_setting = config.bool(flag = True))

# protogen_test(name, test): `test` built and run with protogen's classes
# (--//src/protobuf:protogen=true), so that `bazel test //...` runs the code
# the Windows build links on Linux too.
def _to_protogen_impl(_settings, _attr):
    return {"//src/protobuf:protogen": True}

_to_protogen = transition(
    implementation = _to_protogen_impl,
    inputs = [],
    outputs = ["//src/protobuf:protogen"],
)

def _protogen_test_impl(ctx):
    test = ctx.attr.test[0]
    info = test[DefaultInfo]
    exe = info.files_to_run.executable
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = out, target_file = exe, is_executable = True)
    runfiles = ctx.runfiles(files = [exe]).merge(info.default_runfiles)
    # The test can check that it runs what it was built for (pb::kImplementation).
    return [
        DefaultInfo(executable = out, runfiles = runfiles),
        testing.TestEnvironment({"HCS_PROTOBUF_IMPLEMENTATION": "protogen"}),
    ]

protogen_test = rule(
    implementation = _protogen_test_impl,
    attrs = {
        "test": attr.label(cfg = _to_protogen, mandatory = True, executable = True),
        "_allowlist_function_transition": attr.label(default = "@bazel_tools//tools/allowlists/function_transition_allowlist"),
    },
    test = True,
)
