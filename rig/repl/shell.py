"""The cmd2 application: every rig command, plus ``use``, ``watch``, ``jobs``, ``fg``, ``kill``,
``clear`` and a grouped ``help``; :func:`run_script` runs piped lines (``echo ... | rig``).

Each top-level word of the command tree becomes a cmd2 command whose parser is
built from the same registrations as one-shot mode; its handler runs with a
Context carrying the selection. Around that the shell adds the prompt and
toolbar, completion from the name cache, highlighting, masked history,
background jobs, recording, and one socket for the session (its connection
state in the toolbar, its status events refreshing the names).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TextIO, cast

import cmd2
from cmd2 import Statement, with_argparser, with_category
from cmd2.exceptions import Cmd2ShlexError

from rig import __version__
from rig.api.client import Api
from rig.cli import selection_words
from rig.config import Contexts, environment
from rig.context import Context
from rig.errors import ExitCode, RigError, UsageError
from rig.output import render_error
from rig.repl import help, parsers, status
from rig.repl.completion import NameCache, Names, fetch_names
from rig.repl.highlight import RigLexer, prompt_lexer
from rig.repl.history import MaskingHistory, MaskingPromptHistory, mask_line
from rig.repl.jobs import Job, JobCancelled, JobManager
from rig.repl.realtime import ShellSocket
from rig.repl.selection import SET_HERE, Selection, SelectionStore, names_no_resource
from rig.repl.transcript import Recorder
from rig.runner import execute, internal_error
from rig.targets import defaults, selected_app, selected_network

RIG_CATEGORY = "Commands"
# the shell's own commands (for highlighting), besides the rig commands
SHELL_WORDS = ("use", "watch", "jobs", "fg", "kill", "clear", "history", "help", "exit", "quit")
SHELL_CATEGORY = "Shell"
# cmd2 built-ins that would shadow rig commands or make no sense here.
REMOVED_BUILTINS = ("shell", "edit", "run_pyscript", "run_script")
HIDDEN_BUILTINS = ["alias", "macro", "shortcuts", "set", "quit"]
INTRO = (
    f"rig {__version__}: Tab completes, `help` lists commands, "
    "a trailing & runs one in the background, Ctrl+D exits."
)


@dataclass
class ShellOptions:
    """Global options the shell was started with; every command inherits them."""

    output: str | None = None
    context: str | None = None
    api: str | None = None
    no_color: bool = False
    verbose: int = 0
    record: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def namespace(self) -> argparse.Namespace:
        return argparse.Namespace(
            output=self.output,
            context=self.context,
            api=self.api,
            no_color=self.no_color,
            verbose=self.verbose,
        )


class RigShell(cmd2.Cmd):
    DEFAULT_CATEGORY = SHELL_CATEGORY

    def __init__(
        self,
        options: ShellOptions | None = None,
        *,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        history_file: str = "",
        background: bool = True,
        recorder: Recorder | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options or ShellOptions()
        self.env = environment() if env is None else env
        self.err = stderr or sys.stderr
        self.recorder = recorder
        self.store = SelectionStore()
        self.connection = status.Connection()
        self.selection = Selection()
        self.login_context: str | None = None
        self.last_exit = 0
        self._warned_of_jobs = False
        self.word_parsers, self.word_helps = parsers.build_command_parsers()
        self.selection_words = selection_words(self.word_parsers)
        self._install_rig_commands()
        self.cache = NameCache(
            fetch_names(self._api, self._context_names), connection=self.connection
        )
        self._alerts = Alerts()
        self.jobs = JobManager(self._alert, self._alerts.take_back)
        self.socket = ShellSocket(self._api, self.cache, self.connection, self.env)
        super().__init__(
            stdin=cast(TextIO | None, stdin),
            stdout=cast(TextIO | None, stdout),
            allow_cli_args=False,
            enable_bottom_toolbar=True,
            persistent_history_file=history_file,
            refresh_interval=0.5,
            shortcuts={"?": "help"},
            terminators=[],
        )
        self.self_in_py = False
        self.hidden_commands += HIDDEN_BUILTINS
        self.hidden_commands += [word for word, text in self.word_helps.items() if not text]
        self._mask_history()
        self.main_session.lexer = prompt_lexer(
            RigLexer(
                self._command_words, self._subcommand_words, lambda: self.cache.names.all_words()
            )
        )
        self._load_login_context()
        if background:
            self.cache.start()
            self.socket.start()

    # -- command installation -------------------------------------------------

    def _install_rig_commands(self) -> None:
        for word in self.word_parsers:
            setattr(self, f"do_{word}", types.MethodType(self._make_command(word), self))
        for name in REMOVED_BUILTINS:
            if name not in self.word_parsers:
                setattr(self, f"do_{name}", None)

    def _make_command(self, word: str) -> Callable[..., Any]:
        def command(shell: RigShell, args: argparse.Namespace) -> None:
            shell.run_command(args)

        command.__name__ = f"do_{word}"
        command.__qualname__ = f"RigShell.do_{word}"
        command.__doc__ = self.word_helps.get(word, "")
        return with_category(RIG_CATEGORY)(with_argparser(self.word_parsers[word])(command))

    def _command_words(self) -> list[str]:
        return [*self.word_parsers, *SHELL_WORDS]

    def _subcommand_words(self, word: str) -> list[str]:
        parser = self.word_parsers.get(word)
        if parser is None:
            return ["network", "app", "none"] if word == "use" else []
        try:
            return list(parser.get_subparsers_action().choices)
        except ValueError:
            return []

    def parser_for(self, path: str) -> argparse.ArgumentParser | None:
        """The parser of ``create secret`` etc., or None."""
        words = path.split()
        parser = self.word_parsers.get(words[0]) if words else None
        if parser is None or len(words) < 2:
            return parser
        try:
            return parser.find_parser(words[1:2])
        except ValueError:
            return parser

    # -- running commands -----------------------------------------------------

    def make_context(
        self,
        args: argparse.Namespace | None = None,
        *,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        stdin: IO[str] | None = None,
    ) -> Context:
        merged = self.options.namespace()
        if args is not None:
            merged.__dict__.update({k: v for k, v in vars(args).items() if v is not None})
        ctx = Context.from_args(
            merged,
            env=self.env,
            stdout=stdout or self.stdout,
            stderr=stderr or self.err,
            stdin=stdin or self.stdin,
        )
        ctx.network, ctx.app = self.selection.network, self.selection.app
        ctx.in_shell = True
        return ctx

    def run_command(self, args: argparse.Namespace) -> None:
        if getattr(args, "handler", None) is None:
            raise UsageError("which command?", hint="see `help`")
        ctx = self.make_context(args)
        self.cache.busy()
        try:
            self.last_exit = execute(ctx, args, passthrough=(JobCancelled,))
        except KeyboardInterrupt:
            self.err.write("rig: interrupted\n")
            self.last_exit = ExitCode.INTERRUPTED
        finally:
            ctx.close()
            self.cache.idle()
        self._after_command()

    def _after_command(self) -> None:
        previous = self.login_context
        self._load_login_context()
        if self.login_context != previous:
            self.cache.clear()
            if self.cache.started:
                self.socket.restart()
        self.cache.invalidate()

    def pre_prompt(self) -> None:
        super().pre_prompt()
        self.jobs.release()  # lines can go above the prompt again

    def onecmd_plus_hooks(self, line: str, **kwargs: Any) -> bool:
        line = without_rig(line)
        self.last_exit = ExitCode.OK  # until this line's command or error says otherwise
        try:
            self.statement_parser.parse(line)
        except Cmd2ShlexError as error:  # cmd2 would print it without rig's form or exit code
            self.pexcept(UsageError(f"invalid syntax: {error}", hint=QUOTE_HINT))
            return False
        if line.strip() not in ("_eof", "exit", "quit", ""):
            self._warned_of_jobs = False  # leaving is a second Ctrl+D or exit in a row
        if self._is_tty_session(self.main_session):
            self.jobs.hold()  # the prompt is gone: no printing above it until it is back
        background = background_line(line)
        if background is not None:
            self._start_job(background, line)
            return False
        if self.recorder is None or line == "_eof":
            return super().onecmd_plus_hooks(line, **kwargs)
        prompt = self.prompt
        with self._captured() as buffer:
            stop = super().onecmd_plus_hooks(line, **kwargs)
        self.recorder.add(prompt, line, buffer.getvalue())
        return stop

    @contextlib.contextmanager
    def _captured(self) -> Iterator[io.StringIO]:
        buffer = io.StringIO()
        saved = self.stdout, self.err, sys.stderr
        self.stdout = Tee(self.stdout, buffer)  # type: ignore[assignment]
        self.err = sys.stderr = Tee(self.err, buffer)
        try:
            yield buffer
        finally:
            self.stdout, self.err, sys.stderr = saved

    def onecmd(self, statement: Statement | str, *, add_to_history: bool = True) -> bool:
        """``status``, ``logs`` or ``details`` naming no resource run as the selection's
        (``status app``); history keeps the line as it was typed."""
        if isinstance(statement, Statement):
            try:
                expanded = self._with_selected_resource(statement)
            except RigError:
                if add_to_history:
                    self.history.append(statement)
                raise
            if expanded is not statement:
                if add_to_history:
                    self.history.append(statement)
                return super().onecmd(expanded, add_to_history=False)
        return super().onecmd(statement, add_to_history=add_to_history)

    def _with_selected_resource(self, statement: Statement) -> Statement:
        """``status`` as ``status app`` (see :meth:`onecmd`), and ``context`` as ``context
        show``, which says what the selection means."""
        resource = self.selection.resource_for(statement.argv, self.selection_words)
        if resource is None and names_no_resource(statement.argv, self.selection_words):
            resource = self._default_resource(statement.argv)
        if names_no_resource(statement.argv, CONTEXT_WORD) and not _asks_help(statement.argv):
            resource = "show"
        if resource is None:
            return statement
        line = f"{statement.command} {resource} {statement.args}".rstrip()
        return self.statement_parser.parse(f"{line} {statement.post_command}".rstrip())

    def _default_resource(self, argv: list[str]) -> str | None:
        """With nothing selected, ``status`` means the app (or network) that RIG_APP or
        rig.toml names, as ``status app`` would; else it is refused in one line, saying how
        to choose, rather than with argparse's "required: COMMAND"."""
        if _asks_help(argv):
            return None
        ctx = self.make_context()
        try:
            chosen = defaults(ctx)
        finally:
            ctx.close()
        if chosen.app or chosen.network:
            return "app" if chosen.app else "network"
        word = argv[0]
        raise UsageError(
            f"`{word}` of what? No app or network is selected",
            hint=f"`use app APP` or `use network NET` first, or name one: `{word} app APP`",
        )

    def _start_job(self, line: str, raw: str) -> None:
        self.history.append(self.statement_parser.parse(raw))
        try:
            statement = self._with_selected_resource(self.statement_parser.parse(line))
            parser = self.word_parsers.get(statement.command)
            if parser is None:
                raise UsageError(
                    f"only rig commands run in the background, not {statement.command!r}",
                    hint="see `help` for the commands",
                )
            args = parser.parse_args(statement.argv[1:])
            if getattr(args, "handler", None) is None:
                raise UsageError("which command?", hint=f"see `help {statement.command}`")
        except RigError as error:
            render_error(error, "table", self.err)
            self.last_exit = error.exit_code
            return

        def target(job: Job) -> int:
            out, err = cast(IO[str], job.stdout), cast(IO[str], job.stderr)
            ctx = self.make_context(args, stdout=out, stderr=err, stdin=io.StringIO())
            job.on_cancel(ctx.close)
            try:
                return execute(ctx, args, passthrough=(JobCancelled,))
            finally:
                ctx.close()
                self.cache.invalidate()

        self.jobs.start(line, target, announce=self.poutput)

    def default(self, statement: Statement) -> bool | None:
        similar = self._suggest_similar_command(statement.command)
        hint = f"did you mean `{similar}`? See `help`" if similar else "see `help` for the commands"
        if statement.command == "rig":
            hint = "this is rig's shell: type a command, e.g. `list apps`; `help` lists them"
        render_error(
            UsageError(f"unknown command {statement.command!r}", hint=hint), "table", self.err
        )
        self.last_exit = ExitCode.USAGE
        return None

    def pexcept(self, exception: BaseException, **kwargs: Any) -> None:
        error = exception if isinstance(exception, RigError) else internal_error(exception)
        render_error(error, "table", self.err)
        self.last_exit = error.exit_code

    def postcmd(self, stop: bool, statement: Statement | str) -> bool:
        self.prompt = self._prompt()
        return stop

    # -- the selection and the login context ---------------------------------

    def _load_login_context(self) -> None:
        from rig.transport.session import resolve_target

        try:
            target = resolve_target(self.make_context())
        except RigError:
            target = None
        name = target.context if target else None
        if name != self.login_context or not self.selection.network:
            self.login_context = name
            self.selection = self.store.load(name)
            self._want_selection_keys()
        self.prompt = self._prompt()

    def _prompt(self) -> str:
        label = self.selection.label()
        where = (
            f"{self.login_context}:{label}"
            if self.login_context and label
            else self.login_context or label
        )
        return f"rig {where}> " if where else "rig> "

    def _select(self, selection: Selection) -> None:
        self.selection = selection
        self.store.save(self.login_context, selection)
        self._want_selection_keys()
        self.prompt = self._prompt()

    def _want_selection_keys(self) -> None:
        if self.selection.network:
            self.cache.want((self.selection.network, self.selection.app))

    @with_argparser(parsers.build_use_parser)
    @with_category(SHELL_CATEGORY)
    def do_use(self, args: argparse.Namespace) -> None:
        """Select the network and app that commands use when --network/--app are omitted."""
        if args.what == "none":
            self._select(Selection())
            self.poutput("Selection cleared.")
            return
        ctx = self.make_context()
        try:
            if args.what == "network":
                network = selected_network(ctx, args.name)
                self._select(Selection(network, None, SET_HERE))
                self.poutput(f"Using network {network}.")
            else:
                network, app = selected_app(ctx, args.name, self.selection.network)
                self._select(Selection(network, app, SET_HERE))
                self.poutput(f"Using app {app} in network {network}.")
        finally:
            ctx.close()

    @with_argparser(parsers.build_watch_parser)
    @with_category(SHELL_CATEGORY)
    def do_watch(self, args: argparse.Namespace) -> None:
        """Follow apps' live logs in panes, full screen; q, Esc or Ctrl+C returns here."""
        from rig.repl.watch import watch

        if not args.apps and not self.selection.app:
            raise UsageError(
                "which app? No app is selected", hint="`use app APP` first, or `watch APP ...`"
            )
        ctx = self.make_context()
        self.cache.busy()
        try:
            names = args.apps or [self.selection.app]
            apps = [selected_app(ctx, name, self.selection.network) for name in names]
            watch(ctx, list(dict.fromkeys(apps)), max(0, args.tail))
        finally:
            ctx.close()
            self.cache.idle()

    # -- jobs -------------------------------------------------------------------

    @with_argparser(parsers.build_jobs_parser)
    @with_category(SHELL_CATEGORY)
    def do_jobs(self, args: argparse.Namespace) -> None:
        """List background jobs."""
        jobs = self.jobs.jobs()
        if not jobs:
            self.poutput("No jobs. End a command with & to run it in the background.")
        for job in jobs:
            self.poutput(job.describe())
        self.jobs.forget_finished()

    @with_argparser(
        lambda: parsers.build_job_parser(
            "fg", "Bring a background job to the foreground.", optional=True
        )
    )
    @with_category(SHELL_CATEGORY)
    def do_fg(self, args: argparse.Namespace) -> None:
        """Bring a background job to the foreground (Ctrl+C kills it)."""
        job = self._job(args.job)
        try:
            self.jobs.foreground(job, self.poutput)
        except KeyboardInterrupt:
            self.poutput(job.describe())  # what `jobs` says of it too

    @with_argparser(
        lambda: parsers.build_job_parser("kill", "Stop a background job.", optional=False)
    )
    @with_category(SHELL_CATEGORY)
    def do_kill(self, args: argparse.Namespace) -> None:
        """Stop a background job."""
        job = self._job(args.job)
        self.jobs.kill(job, self.poutput)
        self.poutput(job.describe())

    def _job(self, job_id: int) -> Job:
        """Job ``job_id``, or the newest running one for :data:`parsers.CURRENT_JOB`."""
        if job_id == parsers.CURRENT_JOB:
            running = self.jobs.running()
            if not running:
                raise UsageError(
                    "no running jobs", hint="end a command with & to run it in the background"
                )
            return running[-1]
        job = self.jobs.get(job_id)
        if job is None or not job.running:
            raise UsageError(f"no running job {job_id}", hint="see `jobs`")
        return job

    def _alert(self, text: str) -> None:
        if self._is_tty_session(self.main_session):
            self.add_alert(msg=self._alerts.add(text))
        else:  # no prompt to print above: write at once
            self.stdout.write(text + "\n")
            self.stdout.flush()

    # -- the prompt's surroundings -------------------------------------------

    def get_bottom_toolbar(self) -> Any:
        label = self.selection.label() or "no network selected"
        where = f"{self.login_context}:{label}" if self.login_context else label
        state = self.connection.state
        style = (
            "class:bottom-toolbar.ok" if state == status.CONNECTED else "class:bottom-toolbar.warn"
        )
        running = self.jobs.running()
        jobs = f"{len(running)} job{'s' * (len(running) != 1)} running" if running else "no jobs"
        return [
            ("", f" {where} │ "),
            (style, f"● {state}"),
            ("", f" │ {jobs} "),
        ]

    @with_argparser(cmd2.Cmd._build_help_parser)
    @with_category(SHELL_CATEGORY)
    def do_help(self, args: argparse.Namespace) -> None:
        """List the commands, or show one command's help (`help COMMAND`)."""
        if args.command:
            super().do_help(args.cmd2_statement)
            return
        shell_words = [w for w in SHELL_WORDS if w != "quit" and self.get_command_func(w)]
        shell = {word: self._summary(word) for word in shell_words}
        self.poutput(help.listing(self.word_helps, shell))

    def _summary(self, word: str) -> str:
        """The first line of a shell command's docstring, written as rig's command helps are."""
        doc = getattr(self.get_command_func(word), "__doc__", None) or ""
        line = doc.strip().split("\n")[0].rstrip(".")
        return line[:1].lower() + line[1:]

    @with_argparser(parsers.build_clear_parser)
    @with_category(SHELL_CATEGORY)
    def do_clear(self, _: argparse.Namespace) -> None:
        """Clear the screen and its scrollback, as clear(1) does."""
        if self.stdout.isatty():
            self.stdout.write(CLEAR_SCREEN)
            self.stdout.flush()

    def do_exit(self, _: Statement) -> bool:
        """Leave the shell (also Ctrl+D)."""
        return self._may_leave()

    def do__eof(self, _: Statement | str) -> bool:
        self.poutput()
        return self._may_leave()

    def do_quit(self, _: Statement | str) -> bool:  # hidden: cmd2's name for exit
        return self._may_leave()

    def _may_leave(self) -> bool:
        """As in bash, a first Ctrl+D or ``exit`` with jobs running only says so, as leaving
        kills them; a second one in a row leaves."""
        interactive = self._is_tty_session(self.main_session)
        if not self.jobs.running() or self._warned_of_jobs or not interactive:
            return True
        self._warned_of_jobs = True
        self.err.write(
            "There are running jobs (see `jobs`); Ctrl+D or `exit` again kills them and leaves.\n"
        )
        return False

    def _persist_history(self) -> None:
        super()._persist_history()
        if self.persistent_history_file:
            with contextlib.suppress(OSError):
                os.chmod(self.persistent_history_file, 0o600)

    def postloop(self) -> None:
        self.cache.stop()
        self.jobs.cancel_all()
        self.socket.stop()

    # -- plumbing ---------------------------------------------------------------

    def _api(self) -> Api:
        """The API on a fresh login context, for background work (closed by the caller)."""
        return self.make_context().api()

    def _context_names(self) -> list[str]:
        return sorted(Contexts.load().contexts)

    def _mask_history(self) -> None:
        self.history = MaskingHistory(self.history, self._mask)
        strings = [self._mask(item.raw) for item in self.history]
        self.main_session.history = MaskingPromptHistory(strings, self._mask)
        self.main_session.default_buffer.history = self.main_session.history

    def _mask(self, line: str) -> str:
        return mask_line(line, self.parser_for)

    def names(self) -> Names:
        return self.cache.names


CLEAR_SCREEN = "\x1b[H\x1b[2J\x1b[3J"  # home, erase the screen, erase the scrollback
QUOTE_HINT = "close the quotation, or write a lone quote as \\' or \\\""
CONTEXT_WORD = frozenset({"context"})  # alone, it means `context show`


def _asks_help(argv: list[str]) -> bool:
    return "-h" in argv or "--help" in argv


def run_script(shell: RigShell, lines: Iterable[str]) -> int:
    """Lines from a pipe or a file, one command each, as ``psql < file`` runs them: blank
    lines and ``#`` comments are skipped, and the first line that fails ends the script,
    which exits with that line's code (after saying which line it was)."""
    try:
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            stop = shell.onecmd_plus_hooks(line)
            if shell.last_exit != ExitCode.OK:
                shown = mask_line(line, shell.parser_for)
                shell.err.write(
                    f"rig: stopped at line {number} (exit {shell.last_exit}): {shown}\n"
                )
                return shell.last_exit
            if stop:
                break
        return ExitCode.OK
    finally:
        shell.postloop()


def without_rig(line: str) -> str:
    """``line`` without a leading ``rig``: a one-shot command pasted into the shell (``rig
    create network x``, as quickstart's hint says) runs as it would in a terminal."""
    stripped = line.lstrip()
    return stripped[4:].lstrip() if stripped.startswith(("rig ", "rig\t")) else line


def background_line(line: str) -> str | None:
    """``line`` without its trailing ``&`` if it asks for a background job, else None."""
    stripped = line.rstrip()
    if not stripped.endswith("&") or stripped.endswith("\\&"):
        return None
    body = stripped[:-1].rstrip()
    try:
        import shlex

        shlex.split(body)
    except ValueError:  # the & is inside an open quote
        return None
    return body or None


class Alerts:
    """Texts handed to cmd2's alert queue, which prints them above the prompt, but only while
    there is a prompt: one handed on as the prompt went away waits there for the next prompt.
    ``take_back`` withdraws those, for a command to print them in order (``fg``, ``kill``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[Alert] = []

    def add(self, text: str) -> Alert:
        alert = Alert(text, self)
        with self._lock:
            self._waiting.append(alert)
        return alert

    def shown(self, alert: Alert) -> bool:
        """Called as cmd2 renders ``alert`` to print it: False if it was taken back."""
        with self._lock:
            if alert not in self._waiting:
                return False
            self._waiting.remove(alert)
            return True

    def take_back(self) -> list[str]:
        with self._lock:
            waiting, self._waiting = self._waiting, []
        return [alert.text for alert in waiting]


class Alert:
    """A rich renderable: the text, unless it was taken back (then nothing, not even a line
    end: rich adds none after a renderable)."""

    def __init__(self, text: str, alerts: Alerts) -> None:
        self.text, self._alerts = text, alerts

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        if self._alerts.shown(self):
            from rich.text import Text

            yield Text.from_ansi(self.text)


class Tee(io.TextIOBase):
    """Writes to a stream and to a copy (for ``--record``)."""

    def __init__(self, stream: IO[str], copy: IO[str]) -> None:
        super().__init__()
        self._stream, self._copy = stream, copy

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._copy.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()
