"""Repositories with what the guest image is made of, from outside the workspace.

guest_kernel: Debian's linux-image package as tools/setup unpacks it into
    $HCSSHIM_CACHE (default /var/cache/hcsshim-cpp, else ~/.cache/hcsshim-cpp)
    /guest-kernel/current: `:vmlinuz`, `:config`, `:version.txt`, `:modules`.
guest_userland: the host's runc, ip (iproute2) and nsenter (util-linux)
    with the shared libraries they need (from ldd, at the paths they have on
    the host) and the static busybox, under root/ at their guest paths:
    `:files`.

Either one missing: its targets are genrules that fail naming what to run.
"""

def _missing(rctx, targets, why):
    rules = []
    for t in targets:
        rules.append("""genrule(
    name = "{t}",
    outs = ["{t}.missing"],
    cmd = "echo '{why}' >&2; exit 1",
    visibility = ["//visibility:public"],
)
""".format(t = t, why = why))
    rctx.file("BUILD", "\n".join(rules))

def _cache_dirs(rctx):
    env = rctx.os.environ
    if env.get("HCSSHIM_CACHE"):
        return [env["HCSSHIM_CACHE"]]
    return ["/var/cache/hcsshim-cpp", env.get("HOME", "/nonexistent") + "/.cache/hcsshim-cpp"]

def _guest_kernel_impl(rctx):
    found = None
    for c in _cache_dirs(rctx):
        if rctx.path(c + "/guest-kernel/current/.complete").exists:
            found = c + "/guest-kernel/current"
            break
    if not found:
        _missing(rctx, ["vmlinuz", "config", "version", "modules"],
                 "guest kernel not found in " + " or ".join(_cache_dirs(rctx)) + ": run tools/setup")
        return
    res = rctx.execute(["ls", found + "/lib/modules"])
    versions = [v for v in res.stdout.strip().split("\n") if v]
    if res.return_code != 0 or len(versions) != 1:
        _missing(rctx, ["vmlinuz", "config", "version", "modules"],
                 "want exactly one kernel in " + found + "/lib/modules, found: " + " ".join(versions))
        return
    v = versions[0]
    rctx.symlink(found + "/boot/vmlinuz-" + v, "vmlinuz")
    rctx.symlink(found + "/boot/config-" + v, "config")
    rctx.symlink(found + "/lib/modules/" + v, "modules")
    rctx.file("version.txt", v + "\n")
    rctx.file("BUILD", """exports_files(["vmlinuz", "config", "version.txt"], visibility = ["//visibility:public"])

filegroup(name = "version", srcs = ["version.txt"], visibility = ["//visibility:public"])

filegroup(
    name = "modules",
    srcs = glob(["modules/kernel/**/*.ko"]),
    visibility = ["//visibility:public"],
)
""")

guest_kernel = repository_rule(
    implementation = _guest_kernel_impl,
    local = True,
    environ = ["HCSSHIM_CACHE", "HOME"],
)

def _guest_userland_impl(rctx):
    busybox = "/usr/bin/busybox"
    # Dynamic binaries the guest agent runs: runc for containers, iproute2's
    # ip and util-linux's nsenter for NICs in HCN namespaces.
    dynamic = ["/usr/sbin/runc", "/usr/bin/ip", "/usr/bin/nsenter"]
    for f in dynamic + [busybox]:
        if not rctx.path(f).exists:
            _missing(rctx, ["files"], f + " not found: run tools/setup")
            return
    paths = dynamic + [busybox]
    for binary in dynamic:
        res = rctx.execute(["ldd", binary])
        if res.return_code != 0:
            _missing(rctx, ["files"], "ldd " + binary + " failed: " + res.stderr.strip())
            return
        for line in res.stdout.split("\n"):
            parts = line.strip().split(" ")
            lib = None
            if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
                lib = parts[parts.index("=>") + 1]
            elif parts and parts[0].startswith("/"):
                lib = parts[0]  # the dynamic loader
            if lib and lib not in paths:
                paths.append(lib)
    dests = []
    for p in paths:
        dest = "/bin/busybox" if p == busybox else p
        rctx.symlink(p, "root" + dest)
        dests.append("root" + dest)
    rctx.file("BUILD", """filegroup(
    name = "files",
    srcs = {srcs},
    visibility = ["//visibility:public"],
)
""".format(srcs = repr(sorted(dests))))

guest_userland = repository_rule(
    implementation = _guest_userland_impl,
    local = True,
)
