"""Remote access: commands and shells on the platform over the realtime socket, and their audit.

Wiring, in ``maxlocal/server.py`` (see ``access.RemoteAccess``)::

    remote = RemoteAccess.build(platform)
    endpoint = SocketEndpoint(..., handlers={..., EXEC_TOPICS: remote.handler})
    app.include_router(audit.router(remote.audit, remote.sessions), prefix=PREFIX, ...)
    # on shut-down, before the runtime closes:
    await asyncio.to_thread(remote.close)
"""
