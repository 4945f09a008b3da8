"""Test support shipped with rig: the transcript runner and its pytest plugin."""
