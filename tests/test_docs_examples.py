"""The documentation's terminal transcripts are run, and what they show is what pld prints.

Every ```` ```console ```` block in README.md and docs/*.md is a transcript: a line starting
with ``$ `` is a command (a trailing ``\\`` or an open quote continues it on the next line),
the lines after it up to the next command are what it prints, stdout and stderr as a terminal
interleaves them.
Sybil finds the blocks; the commands of one page run in order in one ``bash`` session (the
page's terminal: ``cd`` and ``export`` carry over) with a clean environment, in a fresh
temporary copy of the repository's ``examples/``. Directives in HTML comments, invisible in
the rendered page:

- ``<!-- skip: next "reason" -->`` (Sybil's): the next block does not run; say why
  (``<!-- skip: next if(docker, reason="...") -->`` skips only where Docker runs).
- ``<!-- invisible-code-block: bash`` ... ``-->``: a set-up script the reader does not need to
  see (a file the page assumes); it must succeed, its output is not compared.
- ``<!-- write-file: NAME -->``: the next code block (a module the page shows) is written
  to NAME in the page's folder; ``<!-- write-config: NAME -->`` writes a config entry the
  page shows alone as a config file of its own (wrapped in ``{}``), for ``--config a,b``.
- ``<!-- run-in-background: URL -->``: the last command of the next block is a server. It
  runs in a second terminal (the first's folder and variables); the test waits until URL
  answers, compares the lines the block shows with the first lines the server printed, and
  stops it when the page ends. The blocks after it talk to it.

A shown output must match exactly, except for what differs from run to run, normalised on
both sides (``normalise``): log timestamps, ISO 8601 times, durations after "in", "took" or
"after", ``sha256:`` digests, job ids (UUIDs); trailing spaces and trailing blank lines. Also:

- a line ``...`` stands for any number of lines, and ``...`` inside a line for any text;
- log lines (``<date> <time>,<ms> LEVEL logger: ...``) are compared only when the shown
  output of that command has one: pages show results and leave the progress logs out;
- the page's ``/tmp`` is a fresh folder, and ports 5000 and 8000 are free ports (a
  ``pld ... serve``, ``pld ... devserver`` or ``pld-devserver`` command that names no
  ``--port`` gets ``--port 5000``); in the output they read as the page writes them;
- as on a terminal 80 columns wide: ``ls`` lists in columns, Click wraps help at 80
  (``COLUMNS``), curl shows no progress meter (``~/.curlrc``).

``PLD_DOCS_UPDATE=1 python -m pytest tests/test_docs_examples.py`` writes what the commands
really printed into the blocks that differ (blocks without ``...``; the others are reported);
read the diff before committing it.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import SkipTest

import pytest

sybil = pytest.importorskip("sybil", reason="sybil is not installed (.ci/run installs it)")
from sybil import Document, Example, Region  # noqa: E402
from sybil.parsers.markdown import SkipParser  # noqa: E402
from sybil.parsers.markdown.lexers import (  # noqa: E402
    DirectiveInHTMLCommentLexer,
    FencedCodeBlockLexer,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(sys.executable).parent
PAGE_PORTS = ("5000", "8000")  # the ports pages use; each is a free port while a page runs
COMMAND_TIMEOUT = 90.0
UPDATE = os.environ.get("PLD_DOCS_UPDATE") == "1"

# --- comparing ----------------------------------------------------------------------------

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
_VARIABLE = [
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.M), "<TIME> "),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?"), "<TIME>"),
    (
        re.compile(r"(?:(?<=\bin )|(?<=\btook )|(?<=\bafter ))\d+(?:\.\d+)? ?(?:s|ms|µs)\b"),
        "<DURATION>",
    ),
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<DIGEST>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<UUID>"),
]


pytestmark = pytest.mark.slow


def normalise(text: str) -> str:
    """``text`` with what changes from run to run replaced by placeholders."""
    for pattern, placeholder in _VARIABLE:
        text = pattern.sub(placeholder, text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _pattern(expected: str, prefix: bool = False) -> re.Pattern[str]:
    parts = []
    for line in normalise(expected).splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(re.escape(line).replace(r"\.\.\.", r"[^\n]*") + r"\n")
    return re.compile("".join(parts) + (r"(?:[^\n]*\n)*" if prefix else ""))


def _as_shown(expected: str, actual: str) -> str:
    """``actual`` without its log lines when ``expected`` shows none, ending in a newline."""
    if not any(LOG_LINE.match(line) for line in expected.splitlines()):
        actual = "\n".join(line for line in actual.splitlines() if not LOG_LINE.match(line))
    return actual.rstrip("\n") + "\n" if actual.strip() else ""


def matches(expected: str, actual: str, prefix: bool = False) -> bool:
    """Whether ``actual`` is what ``expected`` shows (``prefix``: what it prints first)."""
    shown = normalise(_as_shown(expected, actual))
    return _pattern(expected, prefix).fullmatch(shown + "\n" if shown else "") is not None


# --- parsing --------------------------------------------------------------------------------


@dataclass
class Command:
    text: str  # as the page shows it, without the prompt
    expected: str
    line: int  # in the page


@dataclass
class Transcript:
    commands: list[Command]
    source: str  # the block's text, for PLD_DOCS_UPDATE


def parse_transcript(source: str, first_line: int) -> Transcript:
    commands: list[Command] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if commands:
                commands[-1].expected += line + "\n"
            elif line.strip():
                raise ValueError(f"line {first_line + i}: output before the first command")
            i += 1
            continue
        text, number = line[2:], first_line + i
        while (text.endswith("\\") or _open_quote(text)) and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        commands.append(Command(text, "", number))
        i += 1
    return Transcript(commands, source)


def _open_quote(text: str) -> bool:
    """Whether ``text`` ends inside a quoted string (the command goes on in the next line)."""
    try:
        shlex.split(text)
    except ValueError:
        return True
    return False


def _line_of(document: Document, region: Region) -> int:
    return document.text.count("\n", 0, region.start) + 2  # the line after the fence


class ConsoleParser:
    """```` ```console ```` blocks: transcripts to run and compare."""

    def __init__(self) -> None:
        self.lexer = FencedCodeBlockLexer("console", mapping={"source": "source"})

    def __call__(self, document: Document) -> Any:
        for region in self.lexer(document):
            region.parsed = parse_transcript(str(region.lexemes["source"]), 0)
            first = _line_of(document, region)
            for command in region.parsed.commands:
                command.line += first
            region.evaluator = evaluate_transcript
            yield region


class SetupParser:
    """``<!-- invisible-code-block: bash ... -->``: a set-up script."""

    def __init__(self) -> None:
        self.lexer = DirectiveInHTMLCommentLexer("invisible-code-block", arguments="bash")

    def __call__(self, document: Document) -> Any:
        for region in self.lexer(document):
            region.parsed = str(region.lexemes["source"])
            region.evaluator = evaluate_setup
            yield region


class BackgroundParser:
    """``<!-- run-in-background: URL -->``: the next block's last command is a server."""

    def __init__(self) -> None:
        self.lexer = DirectiveInHTMLCommentLexer("run-in-background", arguments=r"\S+")

    def __call__(self, document: Document) -> Any:
        for region in self.lexer(document):
            region.parsed = str(region.lexemes["arguments"])
            region.evaluator = evaluate_background
            yield region


class WriteParser:
    """``<!-- write-file: NAME -->`` or ``<!-- write-config: NAME -->``: the next code block is
    written to NAME in the page's folder (a config entry shown alone is wrapped in ``{}``)."""

    def __init__(self) -> None:
        self.lexer = DirectiveInHTMLCommentLexer(r"write-(?:file|config)", arguments=r"\S+")

    def __call__(self, document: Document) -> Any:
        for region in self.lexer(document):
            region.parsed = (str(region.lexemes["directive"]), str(region.lexemes["arguments"]))
            region.evaluator = evaluate_write
            yield region


class CodeParser:
    """Every other fenced block: not run, but written to a file when a directive says so."""

    def __init__(self) -> None:
        self.lexer = FencedCodeBlockLexer(r"(?!console\b)[\w+-]*", mapping={"source": "source"})

    def __call__(self, document: Document) -> Any:
        for region in self.lexer(document):
            region.parsed = str(region.lexemes["source"])
            region.evaluator = evaluate_code
            yield region


PARSERS = [
    ConsoleParser(),
    SetupParser(),
    BackgroundParser(),
    WriteParser(),
    CodeParser(),
    SkipParser(),
]


# --- running --------------------------------------------------------------------------------


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@dataclass
class Place:
    """Where the pages run: the checkout copy, the pages' /tmp, the port for 5000."""

    root: Path

    def __post_init__(self) -> None:
        self.checkout = self.root / "pld"
        self.tmp = self.root / "tmp"
        self.home = self.root / "home"
        self.ports = {port: _free_port() for port in PAGE_PORTS}
        self.tmp.mkdir(parents=True)
        self.home.mkdir()
        # curl shows no progress meter on a terminal; here its output is a pipe
        (self.home / ".curlrc").write_text("no-progress-meter\n")
        ignore = shutil.ignore_patterns("*.db", "model-*", "Dockerfile-*", "__pycache__")
        shutil.copytree(REPO / "examples", self.checkout / "examples", ignore=ignore)

    def command(self, text: str) -> str:
        """The command as run here: the page's /tmp and port 5000 made ours."""
        text = re.sub(r"(?<![\w/.])/tmp\b", str(self.tmp), text)
        if "--port" not in text:
            text = re.sub(
                r"(\bpld\b[^|;&\n]*? (?:serve|devserver)|\bpld-devserver)\b",
                r"\1 --port 5000",
                text,
            )
        for page_port, port in self.ports.items():
            text = re.sub(rf"\b{page_port}\b", port, text)
        return text

    def shown(self, output: str) -> str:
        """Output as the page would show it: our folder and port read as the page's."""
        output = output.replace(str(self.tmp), "/tmp")
        for page_port, port in self.ports.items():
            output = re.sub(rf"\b{port}\b", page_port, output)
        return output

    def environment(self) -> dict[str, str]:
        path = os.pathsep.join([str(SCRIPTS), os.environ.get("PATH", "/usr/bin:/bin")])
        return {
            "PATH": path,
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "COLUMNS": "80",
            "TERM": "dumb",
            "PYTHONUNBUFFERED": "1",  # stdout and stderr interleave as on a terminal
            "PYTHONDONTWRITEBYTECODE": "1",
        }


class Terminal:
    """One bash session: commands in order, output as a terminal shows it (2>&1)."""

    def __init__(self, place: Place) -> None:
        self.place = place
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=place.checkout,
            env=place.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # the background jobs of the page die with it
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.run("shopt -s expand_aliases; alias ls='ls -C'")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")  # the shell ended

    def run(
        self, command: str, timeout: float = COMMAND_TIMEOUT, raw: bool = False
    ) -> tuple[int, str]:
        """Run ``command`` (stdin from /dev/null unless it says otherwise): status, output
        (as the page shows it, unless ``raw``)."""
        assert self.process.stdin is not None
        marker = f"__pld_docs_{uuid.uuid4().hex}__"
        self.process.stdin.write(f"{{\n{command}\n}} </dev/null\nprintf '\\n{marker} %d\\n' $?\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.close()
                raise TimeoutError(f"no end after {timeout} s: {command}") from None
            if not line:
                raise RuntimeError(f"the shell ended while running: {command}\n{''.join(lines)}")
            if line.startswith(marker):
                status = int(line.split()[1])
                output = "".join(lines)
                output = output[:-1] if output.endswith("\n") else output
                return status, output if raw else self.place.shown(output)
            lines.append(line)

    def state(self) -> tuple[str, dict[str, str]]:
        """The session's folder and exported variables, for a second terminal."""
        _, folder = self.run("pwd", raw=True)
        _, env = self.run("env -0 | base64 -w0", raw=True)
        pairs = base64.b64decode(env).decode().split("\0")
        return folder.strip(), dict(p.split("=", 1) for p in pairs if "=" in p)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class PageRun:
    """A page's state while its examples run; failures are collected, not raised."""

    place: Place
    terminal: Terminal
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    background_url: str | None = None
    write_next: tuple[str, str] | None = None  # (directive, file name)
    updates: list[tuple[str, str]] = field(default_factory=list)  # (old block, new block)
    transcripts_run: int = 0

    def fail(self, line: int, message: str) -> None:
        self.failures.append(f"line {line}: {message}")


def _diff(expected: str, actual: str) -> str:
    return "\n".join(
        difflib.unified_diff(
            normalise(expected).splitlines(),
            normalise(_as_shown(expected, actual)).splitlines(),
            "shown",
            "printed",
            lineterm="",
        )
    )


def evaluate_setup(example: Example) -> None:
    page: PageRun = example.namespace["page"]
    status, output = page.terminal.run(page.place.command(example.parsed))
    if status != 0:
        page.fail(example.line, f"the set-up script exited {status}:\n{output}")


def evaluate_write(example: Example) -> None:
    example.namespace["page"].write_next = example.parsed


def evaluate_code(example: Example) -> None:
    page: PageRun = example.namespace["page"]
    if page.write_next is None:
        return
    (directive, name), page.write_next = page.write_next, None
    text = "{\n" + example.parsed + "}\n" if directive == "write-config" else example.parsed
    marker = f"PLD_DOCS_{uuid.uuid4().hex}"
    status, output = page.terminal.run(f"cat > {shlex.quote(name)} <<'{marker}'\n{text}{marker}")
    if status != 0:
        page.fail(example.line, f"could not write {name}:\n{output}")


def evaluate_background(example: Example) -> None:
    example.namespace["page"].background_url = example.parsed


def evaluate_transcript(example: Example) -> None:
    page: PageRun = example.namespace["page"]
    transcript: Transcript = example.parsed
    page.transcripts_run += 1
    commands = list(transcript.commands)
    background, page.background_url = page.background_url, None
    server = commands.pop() if background else None
    printed: list[str] = []
    for command in commands:
        _, output = page.terminal.run(page.place.command(command.text))
        printed.append(output)
        if not matches(command.expected, output):
            page.fail(command.line, f"$ {command.text}\n{_diff(command.expected, output)}")
    if server is not None and background is not None:
        output = start_server(page, server, background)
        printed.append(output)
        if not matches(server.expected, output, prefix=True):
            page.fail(server.line, f"$ {server.text} (server)\n{_diff(server.expected, output)}")
    if UPDATE and server is None:
        _propose_update(page, transcript, printed)


def start_server(page: PageRun, command: Command, url: str) -> str:
    """Start ``command`` as a second terminal would and wait until ``url`` answers."""
    folder, env = page.terminal.state()
    log = page.place.root / f"server-{len(page.servers)}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", "-c", page.place.command(command.text)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    page.servers.append(Server(process, log))
    target = page.place.command(url)
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(target, timeout=5):
                break
        except urllib.error.HTTPError:
            break  # it answers, if not with 200
        except OSError:
            time.sleep(0.2)
    time.sleep(0.3)  # the lines printed right after it starts listening
    output = page.place.shown(log.read_text(errors="replace"))
    if process.poll() is not None:
        page.fail(command.line, f"$ {command.text} ended (status {process.returncode}):\n{output}")
    return output


def _propose_update(page: PageRun, transcript: Transcript, printed: list[str]) -> None:
    if all(matches(c.expected, out) for c, out in zip(transcript.commands, printed, strict=True)):
        return
    if any(line.strip() == "..." for c in transcript.commands for line in c.expected.splitlines()):
        return  # elided output: merged by hand from the failure report
    new = "".join(
        f"$ {c.text}\n" + _as_shown(c.expected, out)
        for c, out in zip(transcript.commands, printed, strict=True)
    )
    page.updates.append((transcript.source, new))


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def run_page(relative: str, place: Place) -> PageRun:
    """Run the examples of one page in a new terminal; the page's failures and skips."""
    path = REPO / relative
    document = Document.parse(str(path), *PARSERS)
    page = PageRun(place, Terminal(place))
    document.namespace["page"] = page
    document.namespace["docker"] = _docker_engine()  # for skip: next if(docker, ...)
    try:
        for example in document.examples():
            try:
                example.evaluate()
            except SkipTest as reason:
                page.skipped.append(f"line {example.line}: {reason}")
    finally:
        for server in page.servers:
            server.stop()
        page.terminal.close()
    if page.updates:
        text = path.read_text()
        for old, new in page.updates:
            if text.count(old) == 1:
                text = text.replace(old, new)
        path.write_text(text)
    return page


def check(relative: str, page: PageRun) -> None:
    assert not page.failures, f"{relative}: what the page shows is not what runs:\n\n" + (
        "\n\n".join(page.failures)
    )


def examples_in(relative: str) -> int:
    document = Document.parse(str(REPO / relative), *PARSERS)
    return sum(1 for e in document.examples() if e.region.evaluator is evaluate_transcript)


# --- the pages ----------------------------------------------------------------------------

# README's main job, then the tutorial top to bottom, in one fresh copy: what a new user does.
FIRST_STEPS = ["README.md", "docs/getting-started.md"]
# Pages whose transcripts run each in a fresh copy of their own.
PAGES = sorted(
    str(path.relative_to(REPO))
    for path in (REPO / "docs").glob("*.md")
    if str(path.relative_to(REPO)) not in FIRST_STEPS
)


@pytest.mark.slow
def test_readme_then_getting_started(tmp_path: Path) -> None:
    place = Place(tmp_path)
    for relative in FIRST_STEPS:
        assert examples_in(relative), f"{relative} has no transcript to run"
        check(relative, run_page(relative, place))


@pytest.mark.slow
@pytest.mark.parametrize("relative", PAGES)
def test_page(relative: str, tmp_path: Path) -> None:
    if not examples_in(relative):
        pytest.skip(f"{relative} shows no command output (no console block)")
    page = run_page(relative, Place(tmp_path))
    check(relative, page)
    if not page.transcripts_run:
        reasons = {}  # each reason once, with the lines it skips
        for skip in page.skipped:
            line, reason = skip.split(": ", 1)
            reasons.setdefault(reason, []).append(line.removeprefix("line "))
        said = "; ".join(f"{r} (lines {', '.join(lines)})" for r, lines in reasons.items())
        pytest.skip(f"{relative}: every transcript is skipped: {said}")


def test_transcripts_are_parsed_as_the_docstring_says() -> None:
    transcript = parse_transcript("$ pld fit \\\n  --evaluate\nline 1\n\n$ pld list\n", 10)
    assert [(c.text, c.expected, c.line) for c in transcript.commands] == [
        ("pld fit \\\n  --evaluate", "line 1\n\n", 10),
        ("pld list", "", 14),
    ]
    log = "2026-12-01 22:58:36,989 INFO pld: Fitting model done in 0.637 s\n"
    assert matches("Wrote model with version 1.\n", log + "Wrote model with version 1.\n")
    assert matches(log.replace("36,989", "40,000").replace("0.637", "1.2"), log)
    assert not matches(log.replace("Fitting", "Loading"), log)
    assert matches("a\n...\nd\n", "a\nb\nc\nd\n") and matches("a\n...\n", "a\n")
    assert matches('"python": "...",\n', '"python": "3.11.7",\n')
    assert not matches("a\nb\n", "a\nb\nc\n") and matches("a\nb\n", "a\nb\nc\n", prefix=True)
    assert matches("sha256:" + "0" * 64 + "\n", "sha256:" + "a" * 64 + "\n")


def test_a_block_that_shows_commands_with_output_is_a_console_block() -> None:
    """A ``$ `` prompt in a plain block would be output nobody checks: make it console, or
    a ```` ```bash ```` block of commands without prompts and output."""
    unchecked = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text()
        for block in re.finditer(r"^```([^\n]*)\n(.*?)^```", text, re.M | re.S):
            language, body = block.group(1).strip(), block.group(2)
            if language != "console" and re.search(r"^\$ ", body, re.M):
                line = text.count("\n", 0, block.start()) + 1
                unchecked.append(f"{path.relative_to(REPO)}:{line}")
    assert not unchecked, "blocks with $ prompts that no test runs: " + ", ".join(unchecked)


def test_the_page_folder_and_ports_are_ours(tmp_path: Path) -> None:
    place = Place(tmp_path)
    port = place.ports["5000"]
    assert place.command("pld serve") == f"pld serve --port {port}"
    assert place.command("X=1 pld --config a.py,b.py serve") == (
        f"X=1 pld --config a.py,b.py serve --port {port}"
    )
    assert place.command("pld-devserver --port 5000 &") == f"pld-devserver --port {port} &"
    assert place.command("pld test") == "pld test"
    assert place.command("cd /tmp/iris") == f"cd {tmp_path}/tmp/iris"
    assert place.shown(f"{tmp_path}/tmp/x on 127.0.0.1:{port}") == "/tmp/x on 127.0.0.1:5000"
