"""small_binary: a cc_binary rebuilt with -Os when compiling with -c opt.

    small_binary(name = "tool", binary = ":tool_unsized")

For processes that live long and many at once (one shim per task or pod),
resident text is most of their memory and code size matters more than the
last percent of speed. In fastbuild/dbg the binary is passed through as is,
so `bazel test //...` builds the dependency graph once; under -c opt the
binary's dependencies are compiled a second time with -Os.
"""

def _size_transition_impl(settings, attr):
    copts = list(settings["//command_line_option:copt"])
    if str(settings["//command_line_option:compilation_mode"]) == "opt" and "-Os" not in copts:
        copts.append("-Os")
    return {"//command_line_option:copt": copts}

_size_transition = transition(
    implementation = _size_transition_impl,
    inputs = ["//command_line_option:copt", "//command_line_option:compilation_mode"],
    outputs = ["//command_line_option:copt"],
)

def _small_binary_impl(ctx):
    info = ctx.attr.binary[0][DefaultInfo]
    src = info.files_to_run.executable
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = out, target_file = src, is_executable = True)
    runfiles = ctx.runfiles(files = [out]).merge(info.default_runfiles)
    return [DefaultInfo(executable = out, files = depset([out]), runfiles = runfiles)]

small_binary = rule(
    implementation = _small_binary_impl,
    executable = True,
    attrs = {
        "binary": attr.label(cfg = _size_transition, executable = True, mandatory = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
