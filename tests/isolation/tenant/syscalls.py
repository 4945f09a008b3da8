"""A tenant calling what the sandbox's seccomp filter refuses, each in a way that is harmless
on the host when no filter is there (a forked child, a path that does not exist, a null
pointer the kernel rejects): prints ``SYSCALLS <json>``, each call's errno name or ``ok``.

``serve``: the same report as an app's page on ``$PORT``. Only the standard library (the
system's ``python3`` runs it), and the raw call numbers of x86_64 and aarch64.
"""

from __future__ import annotations

import ctypes
import errno
import http.server
import json
import os
import platform
import sys

NUMBERS = {
    "x86_64": {"unshare": 272, "mount": 165, "keyctl": 250, "perf_event_open": 298,
               "bpf": 321, "open_by_handle_at": 304, "userfaultfd": 323, "ptrace": 101,
               "personality": 135, "io_uring_setup": 425, "setns": 308, "syslog": 103},
    "aarch64": {"unshare": 97, "mount": 40, "keyctl": 219, "perf_event_open": 241,
                "bpf": 280, "open_by_handle_at": 265, "userfaultfd": 282, "ptrace": 117,
                "personality": 92, "io_uring_setup": 425, "setns": 268, "syslog": 116},
}  # fmt: skip
CLONE_NEWUSER = 0x10000000
ADDR_NO_RANDOMIZE = 0x0040000
UFFD_USER_MODE_ONLY = 1
KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING = 0, -2
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def call(name: str, *args: int | None) -> str:
    """``ok`` or the errno's name of the raw call."""
    number = NUMBERS[platform.machine()][name]
    result = LIBC.syscall(ctypes.c_long(number), *(ctypes.c_long(a or 0) for a in args))
    return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")


def in_child(name: str, *args: int | None) -> str:
    """The call made by a forked child (what it changes dies with it)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, call(name, *args).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        return answer.read()


def report() -> dict[str, str]:
    return {
        "unshare_user": in_child("unshare", CLONE_NEWUSER),
        "mount": call("mount", None, None, None, 0, None),  # null paths: EFAULT, not a mount
        "keyctl": call("keyctl", KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0),
        "perf_event_open": call("perf_event_open", None, 0, -1, -1, 0),
        "bpf": call("bpf", 0, None, 0),
        "open_by_handle_at": call("open_by_handle_at", -1, None, 0),
        "userfaultfd": in_child("userfaultfd", os.O_CLOEXEC | UFFD_USER_MODE_ONLY),
        "ptrace_traceme": in_child("ptrace", 0, 0, 0, 0),
        "personality_no_aslr": in_child("personality", ADDR_NO_RANDOMIZE),
        "io_uring_setup": call("io_uring_setup", 1, None),
        "setns": call("setns", -1, 0),
        "syslog": call("syslog", 10, None, 0),  # SYSLOG_ACTION_SIZE_BUFFER: only asks
    }


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(report()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Page).serve_forever()
    print("SYSCALLS " + json.dumps(report()), flush=True)
