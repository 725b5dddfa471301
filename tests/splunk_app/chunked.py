"""Drive a search command script the way splunkd does, over the chunked protocol v2.

splunkd starts ``python3 bin/<command>.py`` (no arguments, ``chunked = true``),
sends a ``getinfo`` chunk (the search's metadata: args, session key, splunkd
URI, dispatch dir...), reads the command's configuration back, then sends
``execute`` chunks and reads one answer per chunk. A chunk is
``chunked 1.0,<metadata bytes>,<body bytes>\\n`` + JSON metadata + CSV body, the
framing splunk-sdk-python's ``tests/unit/searchcommands/chunked_data_stream.py``
builds. A generating command gets empty ``execute`` chunks until it answers
``finished: true``; a streaming command gets the input rows, ``finished: true``
on the last chunk. Multivalue fields travel as ``__mv_<field>`` columns
(``$a$;$b$``) beside the newline-joined value.

The script runs with the base interpreter of the test's virtual environment
(``python -E -s``: none of the project's packages, no PYTHON* variables), so it
finds only the standard library and the app's vendored ``lib/splunklib``, as
under Splunk's own Python.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

PYTHON = getattr(sys, "_base_executable", None) or sys.executable


def build_chunk(metadata: dict[str, Any], body: bytes = b"") -> bytes:
    meta = json.dumps(metadata).encode()
    return b"chunked 1.0,%d,%d\n%s%s" % (len(meta), len(body), meta, body)


def rows_csv(rows: list[dict[str, Any]]) -> bytes:
    """Rows as splunkd writes them to a command: a header, multivalues as ``__mv_``."""
    if not rows:
        return b""
    names: list[str] = []
    for row in rows:
        for name, value in row.items():
            if name not in names:
                names.append(name)
            if isinstance(value, list) and f"__mv_{name}" not in names:
                names.append(f"__mv_{name}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        values = []
        for name in names:
            if name.startswith("__mv_"):
                value = row.get(name[5:])
                values.append(
                    ";".join("${}$".format(str(v).replace("$", "$$")) for v in value)
                    if isinstance(value, list)
                    else ""
                )
            else:
                value = row.get(name, "")
                values.append("\n".join(map(str, value)) if isinstance(value, list) else value)
        writer.writerow(values)
    return out.getvalue().encode()


def read_chunk(stream: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]] | None:
    """(metadata, rows, field names) of the next chunk the command wrote, None at end
    of stream. Empty values are left out of the rows, as Splunk shows them."""
    header = stream.readline()
    while header and not header.strip():
        header = stream.readline()
    if not header:
        return None
    version, meta_len, body_len = header.decode().strip().split(",")
    assert version == "chunked 1.0", header
    meta = json.loads(stream.read(int(meta_len)))
    body = stream.read(int(body_len)).decode()
    rows = []
    reader = csv.DictReader(io.StringIO(body))
    for row in reader:
        out: dict[str, Any] = {}
        for name, value in row.items():
            if name.startswith("__mv_"):
                continue
            mv = row.get(f"__mv_{name}")
            if mv:
                out[name] = [v.replace("$$", "$") for v in mv[1:-1].split("$;$")]
            elif value != "" or name not in out:
                out[name] = value
        rows.append({k: v for k, v in out.items() if v != ""})
    names = [n for n in reader.fieldnames or [] if not n.startswith("__mv_")]
    return meta, rows, names


@dataclass
class Result:
    """What splunkd would show: the rows, the messages (search errors), the exit code."""

    getinfo: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)
    returncode: int | None = None
    stderr: str = ""
    chunks: int = 0
    fields: set[str] = field(default_factory=set)

    def as_input(self) -> list[dict[str, Any]]:
        """The rows as splunkd passes them to the next command: every field, empty or not."""
        names = sorted(self.fields)
        return [{name: row.get(name, "") for name in names} for row in self.rows]

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.messages if level in ("ERROR", "FATAL")]


def _messages(meta: dict[str, Any]) -> list[tuple[str, str]]:
    inspector = meta.get("inspector") or {}
    return [(level, text) for level, text in inspector.get("messages", [])]


def run_command(
    app: Path,
    command: str,
    args: list[str],
    *,
    splunkd_uri: str,
    session_key: str,
    dispatch_dir: Path,
    rows: list[dict[str, Any]] | None = None,
    chunk_rows: int = 50,
    maxresultrows: int = 50000,
    timeout: float = 120,
) -> Result:
    """Run ``| command args`` (fed ``rows`` when it is a streaming command) and collect
    everything it writes back."""
    search = "| " + " ".join([command, *args])
    getinfo = {
        "action": "getinfo",
        "preview": False,
        "streaming_command_will_restart": False,
        "searchinfo": {
            "args": args,
            "raw_args": args,
            "dispatch_dir": str(dispatch_dir),
            "sid": "1717171717.42",
            "app": "hopwatch",
            "owner": "admin",
            "username": "admin",
            "session_key": session_key,
            "splunkd_uri": splunkd_uri,
            "splunk_version": "9.1.2",
            "search": quote(search),
            "command": command,
            "maxresultrows": maxresultrows,
            "earliest_time": "0",
            "latest_time": "0",
        },
    }
    proc = subprocess.Popen(
        [PYTHON, "-E", "-s", str(app / "bin" / f"{command}.py")],
        cwd=app / "bin",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    result = Result(getinfo={})
    try:
        proc.stdin.write(build_chunk(getinfo))
        proc.stdin.flush()
        answer = read_chunk(proc.stdout)
        if answer is not None:
            result.getinfo = answer[0]
            result.messages += _messages(answer[0])
        generating = bool(result.getinfo.get("generating"))
        pending = [] if generating else list(rows or [])
        for _ in range(10_000):
            if answer is None or proc.poll() not in (None, 0):
                break
            if generating:
                chunk = build_chunk({"action": "execute", "finished": False})
            else:
                part, pending = pending[:chunk_rows], pending[chunk_rows:]
                chunk = build_chunk({"action": "execute", "finished": not pending}, rows_csv(part))
            try:
                proc.stdin.write(chunk)
                proc.stdin.flush()
            except BrokenPipeError:
                break
            answer = read_chunk(proc.stdout)
            if answer is None:
                break
            meta, out, names = answer
            result.chunks += 1
            result.rows += out
            result.fields.update(names)
            result.messages += _messages(meta)
            if meta.get("finished") and (generating or not pending):
                break
        proc.stdin.close()
        rest = read_chunk(proc.stdout)
        while rest is not None:  # anything flushed at exit (a final error chunk)
            result.rows += rest[1]
            result.messages += _messages(rest[0])
            rest = read_chunk(proc.stdout)
        result.returncode = proc.wait(timeout=timeout)
        result.stderr = proc.stderr.read().decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return result
