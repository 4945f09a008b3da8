"""The platform's API in its own terms (docs/api.md): every endpoint once (:class:`Api`), the
objects it answers (:mod:`rig.api.types`), its realtime topics (:mod:`rig.api.topics`), and
the operations built of several calls: reading a log's tail and following it on
(:mod:`rig.api.logs`), watching a release until it settles (:mod:`rig.api.releases`), the
command's socket (:mod:`rig.api.live`).

Commands and the shell reach the platform through here only; this package reaches it through
:mod:`rig.transport` only. Nothing here imports httpx or asyncio at import time, and this
``__init__`` imports nothing: a command loads only the modules it uses.
"""
