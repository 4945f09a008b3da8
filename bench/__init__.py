"""rig's benchmark suite: start-up, one-shot, shell and realtime figures against references.

Run it with ``./bench/run`` (or ``python -m bench``); ``--quick`` is the smoke mode the
test suite runs. Targets live here, never in the tests.
"""
