"""rig: the command-line client and interactive shell for the Max platform."""

__version__ = "0.1.0"
