"""The interactive shell (``rig`` on a terminal, ``rig repl``).

Only the entry point imports this package, and only when it opens the shell:
one-shot commands never pay for cmd2 or prompt_toolkit.
"""
