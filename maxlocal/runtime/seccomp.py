"""The seccomp filter every sandboxed tenant process runs under (bwrap ``--seccomp FD``).

A deny list, not an allow list: every system call is allowed except the ones containers
refuse by default (Docker's default profile was the reference), which answer ``EPERM``:
namespaces and mounts (the sandbox is set up by then; a tenant making its own user
namespace would get a fresh set of capabilities in it and the kernel's whole
namespace-only attack surface), kernel keyrings, eBPF, perf, ``ptrace`` and reading other
processes' memory, ``userfaultfd`` (a staple of kernel exploits), io_uring, modules,
kexec, swap, reboot, the kernel log, accounting, the clock, port I/O, file handles
(``open_by_handle_at``: the "shocker" escape), obsolete calls, and the ``personality``
flags that turn off address-space randomisation or map page zero. ``clone3`` answers
``ENOSYS`` (its flags are behind a pointer a filter cannot read, so the C library falls
back to ``clone``, whose namespace flags the filter does see).

An allow list would also refuse whatever a new runtime needs next year; this list only
takes away what a build, an app or a shell never needs, so Python, Node, uv, npm, pip and
shells work unchanged (tests/isolation runs them under it).

The filter is compiled to BPF once, when the platform starts (``compile_filter``, with
libseccomp through ``pyseccomp``), and each launch hands bwrap its bytes on a fresh pipe
(``Filter.pipe``). Without libseccomp the platform runs without the filter and says so
(``Filter.detail``, in ``/api/v1/health`` and ``rig local status``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from dataclasses import dataclass
from typing import Any

DENIED = (
    # namespaces and mounts
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    # kernel keyrings, eBPF, perf, io_uring
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # other processes and memory tricks
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "userfaultfd",
    # the kernel itself
    "init_module", "finit_module", "delete_module", "create_module", "query_module",
    "get_kernel_syms", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "syslog", "acct", "quotactl", "quotactl_fd", "lookup_dcookie", "nfsservctl",
    "settimeofday", "clock_settime", "clock_adjtime", "stime",
    "iopl", "ioperm", "vm86", "vm86old", "vhangup",
    # file handles, obsolete calls
    "open_by_handle_at", "uselib", "ustat", "sysfs", "_sysctl",
)  # fmt: skip
"""Calls that answer EPERM in every sandbox."""
CLONE_NAMESPACES = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
"""``clone`` flags refused (EPERM): a new namespace of any kind."""
PERSONALITY_FLAGS = {
    "ADDR_NO_RANDOMIZE": 0x0040000,
    "MMAP_PAGE_ZERO": 0x0100000,
    "ADDR_COMPAT_LAYOUT": 0x0200000,
    "READ_IMPLIES_EXEC": 0x0400000,
}
"""``personality`` flags refused (EPERM); ``personality(0xffffffff)``, which only asks for
the current one, is still allowed."""
COMPAT_ARCHES = {"X86_64": ("X86", "X32"), "AARCH64": ("ARM",)}
"""Other ABIs a process of this machine can call the kernel through: the filter covers them
too (a 32-bit binary gets the same answers instead of being killed as a bad arch)."""


@dataclass(frozen=True)
class Filter:
    """The compiled filter (``bpf``, empty when there is none) and what to say about it."""

    bpf: bytes
    detail: str

    @property
    def active(self) -> bool:
        return bool(self.bpf)

    def pipe(self) -> int:
        """A fresh read end holding the program, for ``bwrap --seccomp FD`` (bwrap reads to
        end of file; a pipe per launch keeps launches of several threads apart). The
        caller passes it to the child and closes it after the start."""
        read, write = os.pipe()
        try:
            os.write(write, self.bpf)  # a few KiB, well under a pipe's buffer
        finally:
            os.close(write)
        return read


NO_FILTER = Filter(b"", "no seccomp filter")


def compile_filter() -> Filter:
    """The filter (see the module's docstring) for this machine; without libseccomp, a
    Filter with no program whose detail says why."""
    try:
        import pyseccomp as sc
    except (ImportError, RuntimeError, OSError) as exc:
        return Filter(b"", f"no seccomp filter (libseccomp unavailable: {exc})")
    try:
        bpf = _build(sc)
    except OSError as exc:
        return Filter(b"", f"no seccomp filter (libseccomp failed: {exc})")
    return Filter(bpf, f"seccomp: {len(DENIED)} kernel calls and namespace flags refused")


def _build(sc: Any) -> bytes:
    """The BPF program, built with libseccomp's calls through the ``pyseccomp`` module."""
    denied = sc.ERRNO(errno.EPERM)
    flt = sc.SyscallFilter(sc.ALLOW)
    native = sc.system_arch()
    for name, extra in COMPAT_ARCHES.items():
        if native == getattr(sc.Arch, name):
            for other in extra:
                flt.add_arch(getattr(sc.Arch, other))
    for call in DENIED:
        with contextlib.suppress(OSError, ValueError):  # a call this libseccomp does not know
            flt.add_rule(denied, call)
    for flag in CLONE_NAMESPACES.values():
        flt.add_rule(denied, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    # "flag set and not the query 0xffffffff" in single comparisons (libseccomp allows one
    # per argument and rule): the flag set and some other bit of the low 32 clear.
    for flag in PERSONALITY_FLAGS.values():
        for bit in range(32):
            if 1 << bit != flag:
                mask = flag | 1 << bit
                flt.add_rule(denied, "personality", sc.Arg(0, sc.MASKED_EQ, mask, flag))
    with tempfile.TemporaryFile() as out:
        flt.export_bpf(out)
        out.seek(0)
        return out.read()
