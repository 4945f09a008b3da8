"""Rendering of command results: tables or key/value text for people, JSON for programs.

Handlers return a :class:`Result`; only this package writes it to the screen.
"""

from rig.output.render import render, render_error
from rig.output.result import Column, Result

__all__ = ["Column", "Result", "render", "render_error"]
