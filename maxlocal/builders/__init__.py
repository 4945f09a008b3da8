"""Builds: what a release needs installed and how it starts, detected from its files.

``plan.make_plan`` reads a release (on disk, or the files ``rig deploy --dry-run`` sends)
and returns a ``Plan``: the dependency environments to build or reuse (``python``,
``node``), the extra build steps, the processes to run (``start``) and one line saying
all of that. ``run.execute`` carries a plan out in the release directory. ``rig.toml``
overrides every detection (docs/builds.md).
"""
