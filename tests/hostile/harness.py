"""Run ``qadiag audit-logs`` on a hostile run directory under a time and a memory limit, and check what
must hold whatever the input.

Each case runs in a child process forked from the test process (qadiag is already imported, so a case
costs its audit, not an interpreter start): the child caps its address space (``RLIMIT_AS``: what it may
allocate beyond what it inherited) and its open files (``RLIMIT_NOFILE``), then runs the real command
line, ``qadiag.cli.main``, once per output format, writing each output to a file. The parent kills the
child past the time limit. What must hold (:func:`check`):

- the exit code is 0 or 1 (findings or none; never 2, the internal-error code, and never a traceback);
- no reader failed (no QD910) and every output parses (JSON and JSON lines stay JSON, JUnit stays XML,
  SARIF meets GitHub code scanning's requirements), with one entry per finding in every format;
- no raw control character (C0 but the line feed, DEL, C1), line separator or bidirectional override
  in any output, no ``##[`` and no line but qadiag's own workflow commands starting with ``::``;
- not a byte of a link target's content (a canary) in any output;
- the run directory is unchanged: every entry's kind, size, mtime and content (links: their target).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import signal
import stat
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from tests.audit.sarif import check_github_sarif

FORMATS = ("full", "concise", "json", "json-lines", "github", "sarif", "junit", "gitlab")
TIME_LIMIT_S = 30.0
MEMORY_LIMIT = 1 << 30  # address space a case may add to what the test process already maps
OPEN_FILES_LIMIT = 64
CANARY = "QADIAG-CANARY-7f3a"
TRACEBACK_EXIT = 99
_RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_OWN_COMMANDS = re.compile(r"^::(error|warning|notice) ")


@dataclass
class Outcome:
    codes: dict[str, int] = field(default_factory=dict)
    out: dict[str, str] = field(default_factory=dict)
    err: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def findings(self) -> list[dict]:
        return json.loads(self.out["json"]) if self.out["json"].strip() else []

    @property
    def codes_found(self) -> set[str]:
        return {item["code"] for item in self.findings}


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(arguments: list[str], results: Path, memory: int) -> None:
    """Runs in the forked child: never returns."""
    code = TRACEBACK_EXIT
    try:
        limit = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))
        from qadiag.cli import main

        for name in FORMATS:
            with open(results / f"{name}.out", "w", encoding="utf-8", errors="surrogateescape") as out, open(
                results / f"{name}.err", "w", encoding="utf-8", errors="surrogateescape"
            ) as err:
                sys.stdout, sys.stderr = out, err
                exit_code = main(["audit-logs", *arguments, "--output-format", name, "--no-progress"])
            (results / f"{name}.code").write_text(str(exit_code))
        code = 0
    except BaseException:
        with open(results / "traceback", "w") as handle:
            handle.write(traceback.format_exc())
    finally:
        os._exit(code)


def run_audit(*paths: Path | str, extra: tuple[str, ...] = (), results: Path, memory: int = MEMORY_LIMIT,
              time_limit: float = TIME_LIMIT_S) -> Outcome:
    """The audit of ``paths`` in every format, in a forked child under the limits."""
    results.mkdir(parents=True, exist_ok=True)
    arguments = [os.fsdecode(path) for path in paths] + list(extra)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(arguments, results, memory)
    deadline = start + time_limit
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"audit-logs {arguments} did not finish in {time_limit} s (a hang)")
        time.sleep(0.005)
    seconds = time.monotonic() - start
    if (results / "traceback").exists():
        raise AssertionError(f"audit-logs {arguments} raised:\n{(results / 'traceback').read_text()}")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"the child died: status {status}"
    outcome = Outcome(seconds=seconds)
    for name in FORMATS:
        outcome.codes[name] = int((results / f"{name}.code").read_text())
        outcome.out[name] = (results / f"{name}.out").read_text(encoding="utf-8", errors="surrogateescape")
        outcome.err[name] = (results / f"{name}.err").read_text(encoding="utf-8", errors="surrogateescape")
    return outcome


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry below ``root``: kind, size, mtime, and content digest (regular files) or target (links);
    FIFOs and sockets are never opened."""
    found = {}
    stack = [os.fspath(root)]
    while stack:  # not os.walk: it recurses, and hostile trees are deeper than the recursion limit
        directory = stack.pop()
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode):
                stack.append(path)
            if stat.S_ISLNK(info.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    detail = hashlib.sha256(handle.read()).hexdigest()
            else:
                detail = None
            found[path] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, detail)
    return found


def check(outcome: Outcome, *, allowed_codes: frozenset[int] = frozenset({0, 1})) -> None:
    """What must hold for every hostile input (see the module docstring)."""
    for name in FORMATS:
        out, err = outcome.out[name], outcome.err[name]
        assert outcome.codes[name] in allowed_codes, (name, outcome.codes[name], err[-2000:])
        for text in (out, err):
            assert "Traceback" not in text and "internal error" not in text, text[-2000:]
            assert CANARY not in text, f"a link target's content reached the {name} output"
            raw = _RAW_CONTROL.search(text)
            assert raw is None, f"raw control character {raw.group()!r} in the {name} output: {text[:500]!r}"
            assert "##[" not in text
            assert not re.search("[\ud800-\udfff]", text), f"a lone surrogate in the {name} output"
        for line in out.splitlines():
            if name == "github" and line:
                assert _OWN_COMMANDS.match(line), f"not one of qadiag's workflow commands: {line[:300]!r}"
                assert line.count("::") >= 2
            else:
                assert not line.lstrip().startswith("::"), f"a line that GitHub would run: {line[:300]!r}"
    if set(outcome.codes.values()) == {2}:  # a usage error: one line on stderr, no report
        assert all(not outcome.out[name] and outcome.err[name].count("\n") == 1 for name in FORMATS)
        return
    findings = outcome.findings
    assert isinstance(findings, list)
    assert entries(outcome) == {name: len(findings) for name in FORMATS if name != "full"}
    check_github_sarif(json.loads(outcome.out["sarif"]))
    crashed = [item for item in findings if item["code"] == "QD910"]
    assert not crashed, crashed
    codes = {name: outcome.codes[name] for name in FORMATS}
    assert len(set(codes.values())) == 1, codes


def entries(outcome: Outcome) -> dict[str, int]:
    """How many findings each machine-readable format holds (each format is parsed)."""
    out = outcome.out
    sarif = json.loads(out["sarif"])["runs"][0]
    return {
        "concise": len(out["concise"].splitlines()),
        "json": len(json.loads(out["json"])),
        "json-lines": len([json.loads(line) for line in out["json-lines"].splitlines()]),
        "github": len(out["github"].splitlines()),
        "sarif": len(sarif["results"]) + len(sarif["invocations"][0]["toolExecutionNotifications"]),
        "junit": len(ET.fromstring(out["junit"]).findall("testsuite/testcase")),
        "gitlab": len(json.loads(out["gitlab"])),
    }


def audit_checked(run_dir: Path, results: Path, *extra: str, paths: tuple[Path, ...] = ()) -> Outcome:
    """:func:`run_audit` on ``run_dir`` (or ``paths``) with every check, the run dir unchanged."""
    before = snapshot(run_dir)
    outcome = run_audit(*(paths or (run_dir,)), extra=extra, results=results)
    check(outcome)
    assert snapshot(run_dir) == before, "the audit changed the run directory"
    return outcome


def remove_tree(root: Path) -> None:
    """``shutil.rmtree`` for trees deeper than the recursion limit (pytest's own clean-up of old temporary
    directories would fail on them): iterative, each step relative to an open directory, one or two open
    at a time, so that the time is linear in the depth."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    current = os.open(root, flags)
    names: list[str] = []  # the way down from root
    pending = [os.listdir(current)]
    while True:
        if pending[-1]:
            name = pending[-1].pop()
            if stat.S_ISDIR(os.lstat(name, dir_fd=current).st_mode):
                child = os.open(name, flags, dir_fd=current)
                os.close(current)
                current = child
                names.append(name)
                pending.append(os.listdir(current))
            else:
                os.unlink(name, dir_fd=current)
            continue
        pending.pop()
        if not names:
            os.close(current)
            os.rmdir(root)
            return
        parent = os.open("..", flags, dir_fd=current)
        os.close(current)
        current = parent
        os.rmdir(names.pop(), dir_fd=current)
