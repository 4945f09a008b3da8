"""``python -m tests.realtime.follow_client URL TOKEN TOPIC [HEARTBEAT_S]``: follows one log
topic through the synchronous facade, printing each record as JSON; Ctrl+C exits 130."""

from __future__ import annotations

import json
import sys

from rig.transport.follow import ConnectionNotices, follow


def main() -> int:
    url, token, topic = sys.argv[1:4]
    heartbeat = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
    try:
        for record in follow(
            url,
            lambda: {"token": token},
            [topic],
            after={topic: 0},
            on_state=ConnectionNotices(sys.stderr),
            heartbeat_interval=heartbeat,
        ):
            print(json.dumps(record), flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
