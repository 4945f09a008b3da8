"""The Swarm runtime: the platform's apps as Docker Swarm services, through the Engine API.

Small modules, each one engine concern; the runtime-driver interface (maxlocal/runtime/driver.py)
calls them:

- ``engine``: the connection (API pinned to 1.41) and the labels on everything made;
- ``base``: the base image from Debian packages (debootstrap, cached, ``docker import``);
- ``images``: a built release directory into an image FROM the base;
- ``variables``: an app's variables as a Swarm secret, never in the service spec;
- ``services``: deploy (create or rolling update), scale, remove, instances/upstreams, reconcile;
- ``logs``: every task's lines, stamped with the instance, following new tasks;
- ``exec``: a command in a running task, with or without a terminal.

The engine is started for tests and CI by scripts/docker-up (one-node swarm on loopback).
"""
