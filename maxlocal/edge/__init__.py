"""The edge in front of apps: the route table (``routes``) and the forwarder that serves it,
HAProxy in a process of its own (``haproxy``), or, where HAProxy is not installed, the
in-process router (``maxlocal.runtime.router``)."""
