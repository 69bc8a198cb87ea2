#!/usr/bin/python3
"""Differential suite for the reshaping options: the same scenarios through bindfs and through
splicefs with the same options, compared on what programs see.

Every scenario mounts a fresh copy of one backing tree twice (bindfs, splicefs; both with
allow_other), then, as root and as three unprivileged uids (forked children that drop to them
with setresuid), records: the shown owner, group and mode of every entry, access(R/W/X),
and the results of creating, chmod, chown, chgrp, unlink, rename and xattr calls, with the
backing's owner and mode afterwards. The two records must be equal, except for the keys a
scenario lists as a deliberate difference (tests/KNOWN_DIFFERENCES.md, KD-RESHAPE-*); those
must then hold splicefs's documented value. bindfs is the oracle for option semantics; the
"plain" scenario also compares splicefs with the backing directory itself (native ext4).

Run as root: bindfs_diff.py SPLICEFS_BINARY [SCENARIO...]
"""
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = (0, 0, [])
A = (41001, 42001, [42003])  # uid, gid, supplementary groups
B = (41002, 42002, [42003])
C = (41003, 42004, [])
USERS = {"root": ROOT, "a": A, "b": B, "c": C}
GS = 42003  # group A and B share

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)


# ---- the backing tree -------------------------------------------------------------------

TREE = [
    # path, kind, uid, gid, mode
    ("root_f", "f", 0, 0, 0o644),
    ("root_x", "f", 0, 0, 0o755),
    ("root_d", "d", 0, 0, 0o755),
    ("a_f", "f", A[0], A[1], 0o640),
    ("a_x", "f", A[0], A[1], 0o750),
    ("b_f", "f", B[0], B[1], 0o600),
    ("shared_d", "d", A[0], GS, 0o2775),  # setgid: new entries take its group
    ("shared_d/a_in", "f", A[0], A[1], 0o644),
    ("shared_d/b_in", "f", B[0], B[1], 0o644),
    ("sticky_d", "d", 0, 0, 0o1777),
    ("sticky_d/a_in", "f", A[0], A[1], 0o644),
    ("sticky_d/b_in", "f", B[0], B[1], 0o644),
    ("a_link", "l", A[0], A[1], 0o777),
]


def build_tree(top):
    for path, kind, uid, gid, mode in TREE:
        p = os.path.join(top, path)
        if kind == "d":
            os.mkdir(p)
        elif kind == "f":
            with open(p, "w") as f:
                f.write(path + "\n")
        else:
            os.symlink("a_f", p)
        os.lchown(p, uid, gid)
        if kind != "l":
            os.chmod(p, mode)
    for path in ("a_f", "b_f"):
        os.setxattr(os.path.join(top, path), "user.tag", path.encode())


# ---- running as another uid -------------------------------------------------------------

def as_user(user, fn, *args):
    """Runs fn(*args) in a child with user's uid, gid and groups; returns what it returned."""
    uid, gid, groups = USERS[user]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            os.umask(0o022)
            out = json.dumps(fn(*args)).encode()
        except BaseException as e:  # reported, then the parent fails the check
            out = json.dumps({"child-exception": repr(e)}).encode()
            code = 1
        with os.fdopen(w, "wb") as f:
            f.write(out)
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def res(fn, *args):
    """'ok' or the errno name of an OSError."""
    try:
        fn(*args)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def shown(path):
    try:
        st = os.lstat(path)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return [st.st_uid, st.st_gid, oct(st.st_mode)]


# ---- what one uid sees and does ---------------------------------------------------------

def look(mnt):
    out = {}
    for path, kind, *_ in TREE:
        p = os.path.join(mnt, path)
        out["stat " + path] = shown(p)
        if kind != "l":
            out["access " + path] = "".join(
                c if os.access(p, m) else "-" for c, m in (("r", os.R_OK), ("w", os.W_OK), ("x", os.X_OK)))
    try:
        out["read a_f"] = res(lambda: open(os.path.join(mnt, "a_f")).read())
        out["write root_f"] = res(lambda: open(os.path.join(mnt, "root_f"), "a").close())
        out["write b_f"] = res(lambda: open(os.path.join(mnt, "b_f"), "a").close())
    except BaseException as e:
        out["io"] = repr(e)
    return out


def act(mnt, top, user):
    """Changes made through the mount by one user, each on its own object."""
    j = lambda *p: os.path.join(mnt, *p)
    out = {}
    for d in ("shared_d", "root_d", "sticky_d"):
        out[f"create {d}"] = res(lambda: os.close(os.open(j(d, f"new_{user}"), os.O_CREAT | os.O_WRONLY, 0o666)))
        out[f"create-suid {d}"] = res(
            lambda: os.close(os.open(j(d, f"suid_{user}"), os.O_CREAT | os.O_WRONLY, 0o4755)))
        out[f"mkdir {d}"] = res(os.mkdir, j(d, f"dir_{user}"), 0o777)
        out[f"symlink {d}"] = res(os.symlink, "target", j(d, f"sym_{user}"))
    out["chmod a_f"] = res(os.chmod, j("a_f"), 0o604)
    out["then a_f"] = shown(j("a_f"))
    out["chmod-x a_in"] = res(os.chmod, j("shared_d", "a_in"), 0o755)
    out["then a_in"] = shown(j("shared_d", "a_in"))
    out["chmod-suid a_x"] = res(os.chmod, j("a_x"), 0o4755)
    out["then a_x"] = shown(j("a_x"))
    out["chmod-suid root_x"] = res(os.chmod, j("root_x"), 0o4755)
    out["then root_x"] = shown(j("root_x"))
    out["chown-self a_f"] = res(os.chown, j("a_f"), os.getuid(), -1)
    out["then backing a_f"] = shown(os.path.join(top, "a_f"))
    out["chown b_f to a"] = res(os.chown, j("b_f"), A[0], -1)
    out["chgrp a_x to shared"] = res(os.chown, j("a_x"), -1, GS)
    out["unlink shared_d/b_in"] = res(os.unlink, j("shared_d", "b_in"))
    out["rename sticky_d/a_in"] = res(os.rename, j("sticky_d", "a_in"), j("sticky_d", f"moved_{user}"))
    out["rmdir root_d"] = res(os.rmdir, j("root_d"))
    out["getxattr a_f"] = res(os.getxattr, j("a_f"), "user.tag")
    out["setxattr a_f"] = res(os.setxattr, j("a_f"), "user.new", b"1")
    out["listxattr a_f"] = res(os.listxattr, j("a_f"))
    return out


def backing_state(top):
    """Owner, group and mode of everything in the backing tree, as root sees it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            out["backing " + os.path.relpath(p, top)] = shown(p)
    return out


# ---- mounts ------------------------------------------------------------------------------

class Mount:
    def __init__(self, argv, mnt):
        self.mnt = mnt
        subprocess.run(argv, check=True, timeout=30, stdout=subprocess.DEVNULL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for _ in range(50):
            if subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
        subprocess.run(["fusermount3", "-uz", self.mnt])


def run_users(view, top):
    """Every user looks at view, the writers act there (top is the backing tree), everyone
    looks again; returns what they saw and did."""
    out = {}
    for user in USERS:
        for k, v in as_user(user, look, view).items():
            out[f"{user}: {k}"] = v
    for user in ("a", "b", "c", "root"):
        for k, v in as_user(user, act, view, top, user).items():
            out[f"{user}: {k}"] = v
    for user in USERS:  # what everyone sees after the changes
        for k, v in as_user(user, look, view).items():
            out[f"{user} after: {k}"] = v
    return out


def record(fs_argv, options, work):
    """Mounts a fresh tree with fs_argv + options, runs every user, returns the record."""
    top = tempfile.mkdtemp(dir=work)
    mnt = tempfile.mkdtemp(dir=work)
    os.chmod(top, 0o755)
    os.chmod(mnt, 0o755)
    build_tree(top)
    with Mount(fs_argv + options + [top, mnt], mnt):
        out = run_users(mnt, top)
    out.update(backing_state(top))
    shutil.rmtree(top)
    os.rmdir(mnt)
    return out


def native_record(work):
    """The same on the native tree itself."""
    top = tempfile.mkdtemp(dir=work)
    os.chmod(top, 0o755)
    build_tree(top)
    out = run_users(top, top)
    out.update(backing_state(top))
    shutil.rmtree(top)
    return out


# ---- scenarios ---------------------------------------------------------------------------

a, b = str(A[0]), str(B[0])
ga, gb, gs = str(A[1]), str(B[1]), str(GS)

def setid_kd(path, value, users=("a", "b", "c")):
    """KD-RESHAPE-SETID: a non-root chmod never sets set-id bits on a file whose backing owner
    is someone else; bindfs does. Every non-root user then sees the file without them."""
    return {f"{u}: then {path}": (value, "KD-RESHAPE-SETID") for u in users}


def chown_self_kd(value, users=("a", "b", "c")):
    """KD-RESHAPE-CHOWN-SELF: a non-root chown to the owner shown changes nothing on the
    backing; bindfs writes the (reverse-mapped) caller's uid there."""
    return {f"{u}: then backing a_f": (value, "KD-RESHAPE-CHOWN-SELF") for u in users}


def offset_create_kd():
    """KD-RESHAPE-OFFSET-CREATE: root (whom the offset cannot be undone for) creates as itself;
    bindfs creates the object too but fails mkdir and symlink with EIO."""
    return {f"root: {op} {d}": ("ok", "KD-RESHAPE-OFFSET-CREATE")
            for op in ("mkdir", "symlink") for d in ("root_d", "shared_d", "sticky_d")}


# name: (options, {key: (splicefs value, KD id)} for deliberate differences from bindfs)
SCENARIOS = {
    "plain": ([], {}),
    "force": (["--force-user=" + a, "--force-group=" + gs], {
        # KD-RESHAPE-CHOWN-SELF: a non-root chown to the owner it is shown changes nothing.
        **chown_self_kd([A[0], A[1], "0o100604"], ("b", "c")),
        **setid_kd("root_x", [A[0], GS, "0o100755"]),
    }),
    "force-root": (["-u", "0", "-g", "0"], {}),
    "perms": (["--perms=0644,a+X"], {}),
    "perms-symbolic": (["-p", "og-x:og+rD:u=rwX:g+rw"], {}),
    "perms-fd": (["--perms=a=rX,fu+w,dug+w"], {}),
    "map": (["--map=" + a + "/" + b + ":@" + ga + "/@" + gb], {
        **setid_kd("a_x", [B[0], B[1], "0o100755"], ("b",)),
        **setid_kd("a_x", [B[0], GS, "0o100755"], ("c",)),
    }),
    "offset": (["--uid-offset=1000", "--gid-offset=1000"], offset_create_kd()),
    "mirror": (["--mirror=" + a + ":" + b], {
        **chown_self_kd([A[0], A[1], "0o100604"], ("b", "c")),
        # ...so root and c (not mirrored) still see a as the owner, where bindfs made it b.
        **{f"{u}: then a_f": ([A[0], A[1], "0o100604"], "KD-RESHAPE-CHOWN-SELF") for u in ("c", "root")},
    }),
    "mirror-only": (["--mirror-only=" + a], setid_kd("root_x", [A[0], 0, "0o100755"], ("a",))),
    "create-for": (["--create-for-user=" + b, "--create-for-group=" + gb, "--create-with-perms=0640,ug+X"], {}),
    "create-as-mounter": (["--create-as-mounter"], {}),
    "create-for-root": (["--create-for-user=0", "--create-for-group=0"], {}),
    "policies-1": (["--chown-ignore", "--chgrp-deny", "--chmod-ignore", "--delete-deny"], {}),
    "policies-2": (["--chown-deny", "--chgrp-ignore", "--chmod-deny", "--rename-deny", "--xattr-ro"], {}),
    "chmod-filter": (["--chmod-filter=g-w,o=", "--chown-ignore"], {}),
    "chmod-allow-x-ignore": (["--chmod-ignore", "--chmod-allow-x"], {}),
    "chmod-allow-x-deny": (["--chmod-deny", "--chmod-allow-x", "-p", "a+r"], {}),
    "xattr-none": (["--xattr-none"], {}),
    # The fstab spelling: bindfs's -o words, ':' inside values.
    "o-form": (["-o", "force-group=" + gs + ",perms=0640:u+X:g+r,chmod-deny,delete-deny,map=" + b + "/" + a], {}),
    # Security: root's files shown as a's. a may chmod them (the mapping grants it) but never
    # make a setuid-root file; bindfs does.
    "map-root": (["--map=0/" + a], {
        **setid_kd("root_x", [A[0], 0, "0o100755"]),
        **chown_self_kd([A[0], A[1], "0o100604"]),
    }),
}

# Security claims checked on splicefs alone, whatever bindfs does.
SECURITY = {
    # Shown as root's: a may write nothing the shown mode refuses, change no mode or owner.
    "force-root": {"a: write root_f": "EACCES", "a: write b_f": "EACCES", "a: chmod-suid root_x": "EPERM",
                   "a: chmod a_f": "EPERM", "a: chown-self a_f": "EPERM", "a: then backing a_f": [A[0], A[1], "0o100640"]},
    # Root's files shown as a's: a may chmod them (the mapping grants it), never to setuid root.
    "map-root": {"a: chmod-suid root_x": "ok", "a: then root_x": [A[0], 0, "0o100755"],
                 "backing root_d/suid_a": [0, A[1], "0o100755"]},
    # New files for b: a non-root creator never makes a set-id file for someone else.
    "create-for": {"a: create-suid shared_d": "ok", "backing shared_d/suid_a": [B[0], GS, "0o100750"]},
    # New files for root: made by a, owned by root, never set-id.
    "create-for-root": {"a: create-suid shared_d": "ok", "backing shared_d/suid_a": [0, GS, "0o100755"],
                        "backing shared_d/new_a": [0, GS, "0o100644"], "backing sticky_d/suid_a": [0, 0, "0o100755"]},
    # Nobody but root and the mirrored user gets in.
    "mirror-only": {"b: read a_f": "EACCES", "b: access root_d": "---", "c: write root_f": "EACCES"},
}


def without_setid(value):
    if isinstance(value, list):
        return value[:2] + [oct(int(value[2], 8) & ~0o6000)]
    return value


# KD-RESHAPE-SETGID-DIR: below a setgid directory new entries take its group, as on the
# backing fs; bindfs gives them the --create-for-group or the --map'ped group instead.
SETGID_DIR_KD = {"map", "create-for", "create-for-root"}


def setgid_dir_entry(k):
    return k.startswith("backing shared_d/") and k.split("/")[1].split("_")[0] in ("new", "dir", "sym", "suid")


def compare(name, spl, ref, expected):
    keys = sorted(set(spl) | set(ref))
    for k in keys:
        if name in SETGID_DIR_KD and setgid_dir_entry(k):
            v, r = spl.get(k), ref.get(k)
            check(isinstance(v, list) and v[1] == GS, f"{name}: {k}: splicefs {v} is not in the setgid group")
            check(isinstance(v, list) and isinstance(r, list) and v[0] == r[0] and without_setid(v)[2] == without_setid(r)[2],
                  f"{name}: {k}: splicefs {v} != bindfs {r} (group aside, KD-RESHAPE-SETGID-DIR)")
            continue
        if k.startswith("backing ") and "/suid_" in k:
            # KD-RESHAPE-CREATE-SETID: bindfs creates with mode & 0777, so a new file never
            # keeps a set-id bit; splicefs keeps it as ext4 does (checked by "plain" against
            # native), but only on a file that belongs to the caller who created it.
            check(without_setid(spl.get(k)) == without_setid(ref.get(k)),
                  f"{name}: {k}: splicefs {spl.get(k)} != bindfs {ref.get(k)} (set-id bits aside)")
            v = spl.get(k)
            if isinstance(v, list) and int(v[2], 8) & 0o6000 and not k.endswith("_root"):
                creator = USERS[k.rsplit("_", 1)[1]]
                check(v[0] == creator[0], f"{name}: {k}: set-id file {v} does not belong to its creator")
            continue
        if k in expected:
            want, kd = expected[k]
            check(spl.get(k) == want, f"{name}: {k}: splicefs {spl.get(k)} != documented {want} ({kd})")
            continue
        check(spl.get(k) == ref.get(k), f"{name}: {k}: splicefs {spl.get(k)} != bindfs {ref.get(k)}")


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    if shutil.which("bindfs") is None:
        print("FAIL: bindfs is not installed (scripts/lib/common.sh installs it)")
        return 1
    splicefs = os.path.abspath(sys.argv[1])
    wanted = sys.argv[2:] or list(SCENARIOS)
    work = tempfile.mkdtemp(prefix="splicefs-reshape-")
    os.chmod(work, 0o755)
    try:
        for name in wanted:
            options, expected = SCENARIOS[name]
            t0 = time.monotonic()
            spl = record([splicefs, "--allow-other"], options, work)
            ref = record(["bindfs"], options, work)
            compare(name, spl, ref, expected)
            for k, want in SECURITY.get(name, {}).items():
                check(spl.get(k) == want, f"{name}: security: {k}: splicefs {spl.get(k)} != {want}")
            if name == "plain":
                # Everything but option semantics: the backing directory itself is the oracle.
                nat = native_record(work)
                for k in sorted(set(nat) | set(spl)):
                    check(spl.get(k) == nat.get(k), f"plain vs native: {k}: splicefs {spl.get(k)} != native {nat.get(k)}")
            print(f"{name}: {len(spl)} observations, {time.monotonic() - t0:.1f}s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} differences")
        return 1
    print("all scenarios agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
