"""Start the sandbox: its channel, limits and confinement first, then torch, then the request loop.

Usage (by the judge, with `python -I -B`): start.py TARGET SCRATCH MEMORY_MIB LIMIT_DATA DEVICE CONFINE SITE_PATHS

The judge writes requests to this process's standard input and reads replies from
its standard output. Both are moved to private descriptors before anything else, and
standard output is pointed at standard error (the learner output file), so a `print`
in learner code never lands in the reply channel. With CONFINE=1 the process enters
new namespaces where the OS offers them (before torch starts any thread) and, once
torch and the sandbox's own modules are loaded, Landlock: from then on it can read
only the Python installation and the submission's folder, and write only its scratch
folder. What was applied is sent to the judge in the first reply.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
OUTPUT_FILE_LIMIT = 16 * 2**20  # learner output goes to a file the judge reads: it cannot fill the disk
PROCESS_LIMIT = 64  # tasks (processes and threads) in the sandbox, where the OS counts them per sandbox
SCRATCH_MIB = 64  # the only place learner code can write; nothing in the exercises needs to


def take_channel() -> tuple[int, int]:
    """(request fd, reply fd): the pipes the judge gave as stdin and stdout, moved out of learner code's way."""
    request_fd, reply_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return request_fd, reply_fd


def set_limits(memory_mib: int, limit_data: bool) -> None:
    """Where the OS has rlimits: the data segment (not with CUDA, whose driver maps large areas of its own;
    the judge also watches the resident size) and the size of any file written."""
    try:
        import resource
    except ImportError:  # Windows: the judge's memory watch is the limit
        return
    limits = [(resource.RLIMIT_FSIZE, OUTPUT_FILE_LIMIT)]
    if memory_mib > 0 and limit_data:
        limits.append((resource.RLIMIT_DATA, memory_mib * 2**20))
    for kind, limit in limits:
        _soft, hard = resource.getrlimit(kind)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(kind, (limit, limit))
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an over-long write fails instead of killing the process


def python_installation() -> list[Path]:
    """What the sandbox may read besides the submission: the interpreter's and the packages' folders."""
    folders = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    folders.update(Path(p) for p in sys.path if p and Path(p).is_dir() and Path(p).resolve() != Path(ROOT))
    return sorted(folders)


def main(argv: list[str]) -> None:
    target, scratch = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    memory_mib, limit_data, device, confined = int(argv[2]), argv[3] == "1", argv[4], argv[5] == "1"
    request_fd, reply_fd = take_channel()
    set_limits(memory_mib, limit_data)
    sys.path.insert(0, ROOT)
    sys.path.extend(p for p in argv[6].split(os.pathsep) if p and p not in sys.path)
    from grader.sandbox import confine

    confinement = confine.Confinement()
    if confined:
        confinement = confine.enter_namespaces(scratch, SCRATCH_MIB)
        confine.limit_processes(PROCESS_LIMIT, confinement)
    from grader.sandbox import main as loop  # imports torch

    loop.warm_up(device)
    if confined:
        confine.restrict([*python_installation(), target], [scratch], confinement)
    sys.path.remove(ROOT)
    for name in [n for n in sys.modules if n == "grader" or n.startswith("grader.")]:
        del sys.modules[name]  # not importable by name from learner code (the loop keeps what it uses)
    loop.serve(target, request_fd, reply_fd, confinement.summary())


if __name__ == "__main__":
    main(sys.argv[1:])
