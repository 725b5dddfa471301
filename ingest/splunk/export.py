"""Reading a splunkd export body (newline-delimited JSON) in bounded blocks."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ingest.splunk.client import SplunkQueryError, SplunkTransient, StreamCut, clip_text

log = logging.getLogger(__name__)

#: ERROR messages that mean the results of this export are incomplete (retried);
#: other ERROR messages (a failing automatic lookup, say) are logged and ignored.
_INCOMPLETE = re.compile(
    r"incomplete|did not exit cleanly|ended prematurely|unable to distribute|"
    r"unreachable|timed? ?out|connection (?:refused|reset|failed)|down",
    re.IGNORECASE,
)


@dataclass
class ExportBlock:
    """Final (non-preview) results of one block of export lines."""

    results: list[dict]
    done: bool  # the final row ("lastrow": true, preview false) was in this block


def iter_export_blocks(stream: Any, block_rows: int) -> Iterator[ExportBlock]:
    """Read an export body a block of lines at a time with ``JSONResultsReader``.

    ``JSONResultsReader`` reads its whole input before yielding, so each block of
    ``block_rows`` lines gets its own reader: memory stays bounded and the rows
    before a cut are usable. Preview rows are dropped; ERROR/FATAL messages raise.

    Raises:
        StreamCut: the body ended inside a line, or had results but no final row.
        SplunkQueryError: a FATAL message (the search cannot run).
        SplunkTransient: an ERROR message saying results are incomplete (e.g. a peer failed).
    """
    from splunklib.results import JSONResultsReader, Message

    reader = io.BufferedReader(stream, buffer_size=1 << 16)
    seen_final = seen_rows = False
    lines: list[bytes] = []

    def flush() -> ExportBlock:
        nonlocal seen_rows
        results: list[dict] = []
        done = False
        parser = JSONResultsReader(io.BytesIO(b"".join(lines)))
        try:
            for item in parser:
                if isinstance(item, Message):
                    if item.type == "FATAL":
                        raise SplunkQueryError(f"search failed: {clip_text(item.message)}")
                    text = clip_text(item.message or "")
                    if item.type == "ERROR" and _INCOMPLETE.search(text):
                        raise SplunkTransient(f"search results incomplete: {text}")
                    level = logging.WARNING if item.type in ("ERROR", "WARN") else logging.DEBUG
                    log.log(level, "splunk message %s: %s", item.type, text)
                    continue
                seen_rows = True
                if parser.is_preview:
                    continue
                results.append(item)
        except json.JSONDecodeError as exc:
            raise StreamCut(f"export stream ended inside a line: {exc}") from None
        for line in lines:
            if b'"lastrow":true' in line and b'"preview":false' in line:
                done = True
        lines.clear()
        return ExportBlock(results, done)

    for line in reader:
        if not line.strip():
            continue
        if not line.endswith(b"\n"):
            # splunkd ends every row with a newline; a last line without one was cut.
            try:
                json.loads(line)
            except ValueError:
                raise StreamCut("export stream ended inside a line") from None
        lines.append(line)
        if len(lines) >= block_rows:
            block = flush()
            seen_final = seen_final or block.done
            yield block
    block = flush()
    seen_final = seen_final or block.done
    if seen_rows and not seen_final:
        raise StreamCut("export stream ended before its final row")
    yield block
