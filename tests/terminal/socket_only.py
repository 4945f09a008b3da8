"""``python -m tests.terminal.socket_only [ARGS]``: rig, whose shell never polls for names.

Its name cache is then refreshed only when told to: by the shell's own commands, by its
socket joining and by the socket's status events. A test that sees a name created
elsewhere become completable in this shell has seen the socket's event at work, however
long the name took to come on a loaded machine.
"""

from __future__ import annotations

from rig.__main__ import entry
from rig.repl import completion

NEVER = 24 * 3600.0

if __name__ == "__main__":
    completion.POLL_INTERVAL = completion.LIVE_POLL_INTERVAL = NEVER
    entry()
