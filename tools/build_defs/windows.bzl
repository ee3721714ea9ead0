"""Windows binaries from a host build, for tests that run them under Wine.

    windows_binary(name = "hcsdiag_exe", binary = "//tools/hcsdiag")

builds //tools/hcsdiag for the mingw-w64 platform (//toolchains/mingw) -
whatever the command line's configuration - and gives `<name>.exe` (or
`<name><extension>`: a DLL is `extension = ".dll"`), so that
an ordinary `bazel test //...` can run it with wine64 (wine_test below).
"""

load("//tools/build_defs:cc.bzl", "hcs_cc_binary")


def _host_only(flags):
    # Sanitizers (--config=asan/fuzz) are the host compiler's: mingw-w64 has
    # no sanitizer runtimes.
    return [f for f in flags if not f.startswith("-fsanitize") and not f.startswith("-fno-sanitize")]

def _to_windows_impl(settings, _attr):
    # (C++ toolchains are resolved by platform in every build: .bazelrc.)
    return {
        "//command_line_option:platforms": "//toolchains/mingw:windows_x86_64",
        "//command_line_option:copt": _host_only(settings["//command_line_option:copt"]),
        "//command_line_option:linkopt": _host_only(settings["//command_line_option:linkopt"]),
    }

_to_windows = transition(
    implementation = _to_windows_impl,
    inputs = ["//command_line_option:copt", "//command_line_option:linkopt"],
    outputs = [
        "//command_line_option:platforms",
        "//command_line_option:copt",
        "//command_line_option:linkopt",
    ],
)

def _windows_binary_impl(ctx):
    built = ctx.attr.binary[0][DefaultInfo].files_to_run.executable
    out = ctx.actions.declare_file(ctx.label.name + ctx.attr.extension)
    ctx.actions.symlink(output = out, target_file = built)
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

windows_binary = rule(
    implementation = _windows_binary_impl,
    attrs = {
        "binary": attr.label(cfg = _to_windows, mandatory = True),
        "extension": attr.string(default = ".exe"),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)

def wine_test(name, script, exes, **kwargs):
    """A shell test that runs Windows binaries under Debian's wine64.

    The script gets WINE (the wine64 loader) and WINEPREFIX (a private
    prefix under TEST_TMPDIR) in its environment and the .exe files as
    runfiles. Tagged `local` (Wine's server socket lives under /tmp) and
    `requires-wine`.
    """
    native.sh_test(
        name = name,
        srcs = [script],
        data = exes + ["//tools/build_defs:wine_env.sh"],
        tags = kwargs.pop("tags", []) + ["local", "requires-wine"],
        size = kwargs.pop("size", "medium"),
        **kwargs
    )

def windows_dll(name, srcs, deps = [], linkopts = [], **kwargs):
    """A DLL built with mingw-w64 (linked statically), as `<name>.dll` from a host build.

    (The cc_binary is `<name>_build.dll`: were it `<name>.dll`, a
    --config=mingw build would make that file twice.)
    """
    hcs_cc_binary(
        name = name + "_build.dll",
        srcs = srcs,
        deps = deps,
        linkopts = linkopts,
        linkshared = True,
        target_compatible_with = ["@platforms//os:windows"],
        **kwargs
    )
    windows_binary(
        name = name,
        binary = ":" + name + "_build.dll",
        extension = ".dll",
        testonly = kwargs.get("testonly", None),
    )
