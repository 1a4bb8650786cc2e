"""Operating-system confinement of the sandbox, the process that runs learner code.

Learner code is an adversary holding a Python interpreter: anything it can reach
from Python (ctypes included) it can undo, so the defences here are the kernel's:

- namespaces (`enter_namespaces`, before torch is imported): a user namespace to
  own the others without privilege; a network namespace with nothing in it (not
  even a loopback that is up); a mount namespace whose size-limited tmpfs is the
  only writable scratch; a pid namespace whose init is ours, so every process
  learner code starts dies with the sandbox;
- Landlock (`restrict`, after torch is imported, before learner code runs): no file
  outside the given folders, no TCP, no signals to and no ptrace of (hence no
  /proc/PID/environ, mem, cwd of) any process outside the sandbox;
- a process limit (`limit_processes`) against fork bombs.

Everything degrades to a no-op where the kernel or the platform (macOS, Windows)
does not offer it, and reports what was actually applied (`Confinement`): these
functions never raise for an unsupported mechanism.

Standard library and ctypes only. Constants are named as in the kernel's UAPI
headers (linux/sched.h, linux/mount.h, linux/prctl.h, linux/landlock.h).
"""
from __future__ import annotations

import ctypes
import functools
import os
import signal
import stat
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, NoReturn

# linux/sched.h
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# linux/mount.h
MS_NOSUID = 1 << 1
MS_NODEV = 1 << 2
MS_NOEXEC = 1 << 3
MS_REC = 1 << 14
MS_PRIVATE = 1 << 18

# linux/prctl.h
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

# linux/landlock.h. The syscall numbers were allocated after the numbering was
# unified (5.1), so they are the same on these architectures (not on alpha or mips).
SYS_landlock_create_ruleset = 444
SYS_landlock_add_rule = 445
SYS_landlock_restrict_self = 446
_LANDLOCK_MACHINES = frozenset({"x86_64", "aarch64", "riscv64", "ppc64le", "s390x"})

LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1

LANDLOCK_ACCESS_FS_EXECUTE = 1 << 0
LANDLOCK_ACCESS_FS_WRITE_FILE = 1 << 1
LANDLOCK_ACCESS_FS_READ_FILE = 1 << 2
LANDLOCK_ACCESS_FS_READ_DIR = 1 << 3
LANDLOCK_ACCESS_FS_REMOVE_DIR = 1 << 4
LANDLOCK_ACCESS_FS_REMOVE_FILE = 1 << 5
LANDLOCK_ACCESS_FS_MAKE_CHAR = 1 << 6
LANDLOCK_ACCESS_FS_MAKE_DIR = 1 << 7
LANDLOCK_ACCESS_FS_MAKE_REG = 1 << 8
LANDLOCK_ACCESS_FS_MAKE_SOCK = 1 << 9
LANDLOCK_ACCESS_FS_MAKE_FIFO = 1 << 10
LANDLOCK_ACCESS_FS_MAKE_BLOCK = 1 << 11
LANDLOCK_ACCESS_FS_MAKE_SYM = 1 << 12
LANDLOCK_ACCESS_FS_REFER = 1 << 13  # ABI 2
LANDLOCK_ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
LANDLOCK_ACCESS_FS_IOCTL_DEV = 1 << 15  # ABI 5

LANDLOCK_ACCESS_NET_BIND_TCP = 1 << 0  # ABI 4
LANDLOCK_ACCESS_NET_CONNECT_TCP = 1 << 1  # ABI 4

LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
LANDLOCK_SCOPE_SIGNAL = 1 << 1  # ABI 6

_ACCESS_FS_V1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
# The rights that make sense on a file itself; a rule on a non-directory may hold no others.
_ACCESS_FILE = (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE
                | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
_ACCESS_READ = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE
_DEVICES = {
    "/dev/null": LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE,
    "/dev/urandom": LANDLOCK_ACCESS_FS_READ_FILE,
    "/dev/random": LANDLOCK_ACCESS_FS_READ_FILE,
}

SCRATCH_INODES = 4096
_NAMESPACES = (("user", CLONE_NEWUSER), ("pid", CLONE_NEWPID), ("net", CLONE_NEWNET), ("mount", CLONE_NEWNS))

_ENVIRONMENT_KEPT = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "NO_COLOR",
    "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    "CUDA_VISIBLE_DEVICES", "PYTHONIOENCODING", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
})


@dataclass
class Confinement:
    """What was actually applied; `summary()` is what a report shows."""

    namespaces: list[str] = field(default_factory=list)
    landlock_abi: int = 0
    landlock: list[str] = field(default_factory=list)
    scratch_limit_mib: int | None = None
    process_limit: int | None = None
    fresh_proc: bool = False  # /proc remounted: it lists the sandbox's own processes only
    # Threads that existed when Landlock was applied: Landlock confines the calling
    # thread (and what it starts later) only, so these stay unconfined.
    unconfined_threads: int = 0

    def summary(self) -> str:
        """A short stable string, e.g. "landlock-v7+namespaces(user,pid,net,mount)+scratch(64MiB)+nproc(32)"."""
        parts = []
        if self.landlock_abi:
            parts.append(f"landlock-v{self.landlock_abi}")
        if self.namespaces:
            parts.append(f"namespaces({','.join(self.namespaces)})")
        if self.scratch_limit_mib is not None:
            parts.append(f"scratch({self.scratch_limit_mib}MiB)")
        if self.process_limit is not None:
            parts.append(f"nproc({self.process_limit})")
        return "+".join(parts) or "none"


# --------------------------------------------------------------------------
# System calls
# --------------------------------------------------------------------------


def _on_linux() -> bool:
    return sys.platform.startswith("linux")


@functools.lru_cache(maxsize=None)
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc
    except (OSError, AttributeError):
        return None


def _check(result: int) -> int:
    """The libc convention, -1 and errno, as an OSError."""
    if result == -1:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))
    return result


def _syscall(number: int, *args: object) -> int:
    libc = _libc()
    if libc is None:
        raise OSError(38, "no libc")  # ENOSYS
    return _check(libc.syscall(ctypes.c_long(number), *args))


def _unshare(flags: int) -> bool:
    libc = _libc()
    return libc is not None and libc.unshare(ctypes.c_int(flags)) == 0


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> bool:
    libc = _libc()
    source_, target_, fstype_, data_ = (None if text is None else os.fsencode(text)
                                        for text in (source, target, fstype, data))
    return libc is not None and libc.mount(source_, target_, fstype_, ctypes.c_ulong(flags), data_) == 0


def _prctl(option: int, value: int) -> bool:
    libc = _libc()
    return libc is not None and libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                                           ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0


# --------------------------------------------------------------------------
# Namespaces
# --------------------------------------------------------------------------


def enter_namespaces(scratch: Path, scratch_mib: int) -> Confinement:
    """Enter new user, network, mount and pid namespaces; return in the process that goes on.

    Call in a single-threaded process, before torch is imported: the kernel refuses a
    new user namespace to a multi-threaded process. `scratch` must be an existing
    empty folder; a tmpfs of `scratch_mib` MiB is mounted on it, seen by this
    process only.

    A new pid namespace only takes effect for children, so with one this forks twice:
    the caller becomes a shim that waits and then ends exactly as the sandbox did
    (same exit code, or killed by the same signal); its child is pid 1, an init that
    reaps orphans; the grandchild (pid 2) returns from here and runs the sandbox.
    The sandbox is not pid 1 itself because the kernel ignores, for a namespace's
    init, every signal it has no handler for, even SIGKILL sent by itself: a learner's
    os.kill(os.getpid(), SIGKILL) or os.abort() would not end it. When the sandbox
    ends, init ends, and the kernel kills whatever else runs in the namespace
    (forked, double-forked, setsid). When the shim is killed, init gets SIGKILL.

    Steps the kernel refuses (EPERM, ENOSYS, EINVAL; another platform) are skipped,
    and the result says what was applied.
    """
    confinement = Confinement()
    if not _on_linux() or _libc() is None:
        return confinement
    uid, gid = os.getuid(), os.getgid()  # unmapped, they read as 65534 in the new namespace
    for name, flag in _NAMESPACES:
        if not _unshare(flag):
            continue
        if flag == CLONE_NEWUSER:
            _map_ids(uid, gid)
        elif flag == CLONE_NEWNS and _mount(None, "/", None, MS_REC | MS_PRIVATE, None):
            if _mount_scratch(scratch, scratch_mib):
                confinement.scratch_limit_mib = scratch_mib
        confinement.namespaces.append(name)
    if "pid" in confinement.namespaces:
        _fork_into_pid_namespace(confinement)
    return confinement


def _map_ids(uid: int, gid: int) -> None:
    """Map our own uid and gid to themselves: the only mapping an unprivileged process
    may write, and it keeps the files we own ours (unmapped, new files could not be
    created at all). setgroups must be denied before an unprivileged gid_map."""
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1\n"), ("gid_map", f"{gid} {gid} 1\n")):
            with open(f"/proc/self/{name}", "w", encoding="ascii") as file:
                file.write(text)
    except OSError:
        pass


def _mount_scratch(scratch: Path, scratch_mib: int) -> bool:
    options = f"size={scratch_mib}m,nr_inodes={SCRATCH_INODES},mode=0700"
    return _mount("tmpfs", str(scratch), "tmpfs", MS_NOSUID | MS_NODEV, options)


def _fork_into_pid_namespace(confinement: Confinement) -> None:
    """Become the shim (never returns) and its grandchild, pid 2 of the namespace (returns)."""
    status_read, status_write = os.pipe()  # init -> shim: the sandbox's wait status
    lifeline_read, lifeline_write = os.pipe()  # end-of-file for init when the shim is gone
    init = _fork_or_none()
    if init is None:  # the namespace stays empty; forks by learner code would fill it
        confinement.namespaces.remove("pid")
        for fd in (status_read, status_write, lifeline_read, lifeline_write):
            os.close(fd)
        return
    if init:
        _run_shim(init, status_read, lifeline_write)
    os.close(status_read)
    os.close(lifeline_write)  # or init would keep its own lifeline open
    _die_with_shim(lifeline_read)
    confinement.fresh_proc = _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    sandbox = _fork_or_none()
    if sandbox is None:
        os._exit(126)
    if sandbox:
        _run_init(sandbox, status_write)
    os.close(status_write)
    os.close(lifeline_read)


def _fork_or_none() -> int | None:
    for stream in (sys.stdout, sys.stderr):  # else buffered output would be written twice
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    try:
        return os.fork()
    except OSError:
        return None


def _run_shim(init: int, status_read: int, lifeline_write: int) -> NoReturn:
    """Wait for the namespace's init and end as the sandbox ended."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # die of it, not KeyboardInterrupt
        _close_all_but(status_read, lifeline_write)  # the judge's pipes: EOF as soon as the sandbox ends
        _, init_status = os.waitpid(init, 0)
        reported = os.read(status_read, 4)
        _end_like(struct.unpack("=i", reported)[0] if len(reported) == 4 else init_status)
    finally:
        os._exit(125)


def _die_with_shim(lifeline_read: int) -> None:
    """SIGKILL init when the shim dies; if it died before prctl, end now.

    getppid() cannot tell: the shim is outside the namespace, so it reads 0 either way.
    The lifeline pipe can: its only writer is the shim, which never writes.
    """
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.set_blocking(lifeline_read, False)
    try:
        os.read(lifeline_read, 1)
    except BlockingIOError:
        return
    os._exit(125)


def _run_init(sandbox: int, status_write: int) -> NoReturn:
    """pid 1: reap orphans until the sandbox ends, report its status to the shim, end
    (the kernel then kills every other process in the namespace)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _close_all_but(status_write)
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == sandbox:
                os.write(status_write, struct.pack("=i", status))
                os._exit(0)
    finally:
        os._exit(125)


def _end_like(status: int) -> NoReturn:
    """Exit with a wait status: the same code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        _no_core_dump()
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP: already default
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal whose default is not to end the process
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 125)


def _no_core_dump() -> None:
    """The sandbox dumped its core, if any; the shim's own would only add a copy."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, OSError, ValueError):
        pass


def _close_all_but(*keep: int) -> None:
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 2**31 - 1)  # close_range(2) on Linux: one system call


# --------------------------------------------------------------------------
# Landlock
# --------------------------------------------------------------------------


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers; 0 without Landlock (or off Linux)."""
    if not _on_linux() or os.uname().machine not in _LANDLOCK_MACHINES:
        return 0
    try:
        return _syscall(SYS_landlock_create_ruleset, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except OSError:
        return 0


def handled_fs_access(abi: int) -> int:
    """Every filesystem right the ABI knows: Landlock denies handled rights no rule grants."""
    rights = _ACCESS_FS_V1
    if abi >= 2:
        rights |= LANDLOCK_ACCESS_FS_REFER
    if abi >= 3:
        rights |= LANDLOCK_ACCESS_FS_TRUNCATE
    if abi >= 5:
        rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV
    return rights


def _ruleset_attr(abi: int) -> bytes:
    """struct landlock_ruleset_attr, cut to the fields the ABI knows (the kernel
    rejects nonzero fields it does not know)."""
    handled_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP if abi >= 4 else 0
    scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL if abi >= 6 else 0
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    return struct.pack("=QQQ", handled_fs_access(abi), handled_net, scoped)[:size]


def _restricted(abi: int) -> list[str]:
    return ["filesystem"] + (["tcp"] if abi >= 4 else []) + (["signals", "abstract-unix-sockets"] if abi >= 6 else [])


def restrict(read_only: Iterable[Path], read_write: Iterable[Path],
             confinement: Confinement | None = None) -> Confinement:
    """Confine this thread, and every thread and process it starts later, with Landlock.

    Allowed: reading and executing beneath `read_only`, everything beneath
    `read_write`, /dev/null, /dev/urandom and /dev/random; paths that do not exist are
    skipped. Denied: every other file access, and with ABI >= 4 every TCP bind and
    connect, with ABI >= 6 signals and abstract unix sockets outside the sandbox.
    Landlock always denies ptrace of processes outside, which closes /proc/PID/mem,
    environ, cwd... of the judge even where /proc is readable.

    Call after torch is imported (it reads many files while importing) and before
    learner code runs, with no other thread alive (those are not confined: see
    `Confinement.unconfined_threads`; OPENBLAS_NUM_THREADS=1 keeps torch's import to
    one). The whole ruleset is built before it is applied: any failure applies
    nothing and leaves `landlock_abi` 0. Updates and returns `confinement`.
    """
    confinement = confinement if confinement is not None else Confinement()
    abi = landlock_abi()
    if abi < 1:
        return confinement
    try:
        attr = _ruleset_attr(abi)
        ruleset = _syscall(SYS_landlock_create_ruleset, ctypes.create_string_buffer(attr, len(attr)),
                           ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    except OSError:
        return confinement
    try:
        handled = handled_fs_access(abi)
        rules = [(Path(path), _ACCESS_READ) for path in read_only]
        rules += [(Path(path), handled) for path in read_write]
        rules += [(Path(path), rights) for path, rights in _DEVICES.items()]
        for path, rights in rules:
            _add_path_rule(ruleset, path, rights & handled)
        if not _prctl(PR_SET_NO_NEW_PRIVS, 1):  # required to restrict self without CAP_SYS_ADMIN
            return confinement
        threads = _thread_count()
        _syscall(SYS_landlock_restrict_self, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    except OSError:
        return confinement
    finally:
        os.close(ruleset)
    confinement.landlock_abi = abi
    confinement.landlock = _restricted(abi)
    confinement.unconfined_threads = threads - 1
    return confinement


def _add_path_rule(ruleset: int, path: Path, rights: int) -> None:
    """Allow `rights` beneath `path` (on the file itself when it is not a folder)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _ACCESS_FILE
        if rights:
            attr = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr is packed: 12 bytes
            _syscall(SYS_landlock_add_rule, ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                     ctypes.create_string_buffer(attr, len(attr)), ctypes.c_uint32(0))
    finally:
        os.close(fd)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


# --------------------------------------------------------------------------
# Process limit, environment
# --------------------------------------------------------------------------


def limit_processes(count: int, confinement: Confinement | None = None) -> Confinement:
    """At most `count` tasks (RLIMIT_NPROC, soft and hard), in a user namespace only.

    Since Linux 5.14 the count is kept per user namespace, so in the fresh one
    `enter_namespaces` made it counts the sandbox's own tasks: the shim, init, the
    sandbox, every thread (OpenMP's too) and every process it starts. In the initial
    namespace it would count every process of the user on the machine. The kernel
    never applies the limit to a task that is root outside: then nothing is set.
    Updates and returns `confinement`.
    """
    confinement = confinement if confinement is not None else Confinement()
    if not _on_linux() or _outside_uid() in (None, 0):
        return confinement
    try:
        import resource
        _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        limit = count if hard == resource.RLIM_INFINITY else min(count, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    except (ImportError, OSError, ValueError):
        return confinement
    confinement.process_limit = limit
    return confinement


def _outside_uid() -> int | None:
    """Our uid in the initial user namespace; None in the initial namespace itself (or unknown)."""
    try:
        with open("/proc/self/uid_map", encoding="ascii") as file:
            lines = [line.split() for line in file]
    except OSError:
        return None
    if lines == [["0", "0", "4294967295"]]:
        return None
    uid = os.getuid()
    for inside, outside, count in lines:
        if int(inside) <= uid < int(inside) + int(count):
            return int(outside) + uid - int(inside)
    return None


def safe_environment(environ: Mapping[str, str], scratch: Path) -> dict[str, str]:
    """The environment for the sandbox: an allowlist, so that no token or credential of
    the caller's (GITHUB_*, AWS_*, GRADER_*...) reaches learner code, with home and
    temporary folders pointing at the scratch."""
    kept = {name: value for name, value in environ.items()
            if name.upper() in _ENVIRONMENT_KEPT or name.upper().startswith("LC_")}
    for name in ("HOME", "TMPDIR", "TMP", "TEMP"):
        kept[name] = str(scratch)
    return kept
