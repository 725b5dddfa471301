"""The canonical authentication-event schema and its validator.

Every source (LANL, Windows XML/EVTX/classic text, Splunk, the simulator) is
mapped to this one Polars schema; nothing downstream knows where an event came
from.

Columns (required):
    time         Int64    UTC seconds (LANL: seconds since the data set's epoch)
    src_user     String   user@domain that authenticates (LANL "source user")
    dst_user     String   user@domain the credentials are used for
    src_host     String   host the authentication comes from
    dst_host     String   host the authentication is made to
    auth_type    String   Kerberos, NTLM, Negotiate, MICROSOFT_AUTHENTICATION_PACKAGE_V1_0, ...
    logon_type   String   Network, Interactive, RemoteInteractive, Service, Batch, ...
    orientation  String   LogOn, LogOff, TGS, TGT, AuthMap
    success      Boolean  True for Success, False for Fail
    source       String   provenance: file name, "lanl", "splunk:<sid>", "sim"

Columns (optional; filled with nulls when a source lacks them):
    event_code   Int32    Windows event id (4624, 4625, ...)
    logon_id     String   Windows logon id (0x...)
    src_ip       String   source IP address
    record       Int64    record number within ``source`` (EVTX record id, line
                          number, Splunk result offset)

Windows-only optional columns (:data:`WINDOWS_OPTIONAL`; kept by :func:`conform`
when a frame has them, never added; LANL and the simulator do not carry them):
    logon_process  String  LogonProcessName of 4624/4625 as written, trimmed
                           (``seclogo``, ``NtLmSsp``, ``Kerberos``, ``User32``);
                           null for other events
    key_length     Int32   KeyLength of 4624/4625 (NTLM session key bits; 0 = none)
    process_name   String  ProcessName of 4624/4625/4648 (the process that asked)
    ticket_encryption String TicketEncryptionType of 4768/4769/4771 (``0x17`` = RC4)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ingest.errors import HopwatchError

REQUIRED: dict[str, pl.DataType] = {
    "time": pl.Int64(),
    "src_user": pl.String(),
    "dst_user": pl.String(),
    "src_host": pl.String(),
    "dst_host": pl.String(),
    "auth_type": pl.String(),
    "logon_type": pl.String(),
    "orientation": pl.String(),
    "success": pl.Boolean(),
    "source": pl.String(),
}

OPTIONAL: dict[str, pl.DataType] = {
    "event_code": pl.Int32(),
    "logon_id": pl.String(),
    "src_ip": pl.String(),
    "record": pl.Int64(),
}

AUTH_SCHEMA: pl.Schema = pl.Schema({**REQUIRED, **OPTIONAL})

#: Optional columns only Windows sources carry. Not part of :data:`AUTH_SCHEMA`
#: (LANL, simulator and API frames stay as they are); :func:`conform` keeps them,
#: after the canonical columns, when the input has them.
WINDOWS_OPTIONAL: dict[str, pl.DataType] = {
    "logon_process": pl.String(),
    "key_length": pl.Int32(),
    "process_name": pl.String(),
    "ticket_encryption": pl.String(),
}
WINDOWS_AUTH_SCHEMA: pl.Schema = pl.Schema({**AUTH_SCHEMA, **WINDOWS_OPTIONAL})

#: Columns that must be non-null and non-empty for a row to be usable.
NON_EMPTY = ("src_host", "dst_host")

#: Values seen in the LANL data set for the categorical columns. Other values
#: are allowed (Windows produces more) but these are the canonical spellings.
ORIENTATIONS = ("LogOn", "LogOff", "TGS", "TGT", "AuthMap")
AUTH_TYPES = ("Kerberos", "NTLM", "Negotiate", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", "?")
LOGON_TYPES = (
    "Network",
    "Interactive",
    "RemoteInteractive",
    "Service",
    "Batch",
    "Unlock",
    "NewCredentials",
    "NetworkCleartext",
    "CachedInteractive",
    "?",
)

MAX_EXAMPLES = 5


class SchemaError(HopwatchError, ValueError):
    """A frame cannot be brought to the canonical schema (missing columns)."""


@dataclass
class ValidationReport:
    """Result of :func:`validate`.

    Attributes:
        valid: the rows that passed, in the canonical schema and column order.
        bad_rows: number of rejected rows.
        reasons: rejected-row count per reason.
        examples: up to ``MAX_EXAMPLES`` rejected rows per reason, as dicts.
    """

    valid: pl.DataFrame
    bad_rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict]] = field(default_factory=dict)

    def merge(self, other: ValidationReport) -> None:
        """Fold ``other``'s counts and examples into this report (not its rows)."""
        self.bad_rows += other.bad_rows
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        for reason, rows in other.examples.items():
            kept = self.examples.setdefault(reason, [])
            kept.extend(rows[: MAX_EXAMPLES - len(kept)])

    def describe(self) -> str:
        """One human line per reason, e.g. ``"3 rows: null time"``."""
        return "; ".join(f"{n} rows: {reason}" for reason, n in sorted(self.reasons.items()))


def conform(df: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Add missing optional columns as nulls, cast, and order columns canonically.

    Windows-only optional columns (:data:`WINDOWS_OPTIONAL`) present in the
    input are kept after the canonical ones; absent ones are not added.

    Raises:
        SchemaError: a required column is missing (names every missing column).
    """
    lf = df.lazy()
    names = lf.collect_schema().names()
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise SchemaError(f"missing required column(s): {', '.join(missing)}")
    exprs = []
    for name, dtype in AUTH_SCHEMA.items():
        if name in names:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    exprs.extend(pl.col(c).cast(t, strict=False) for c, t in WINDOWS_OPTIONAL.items() if c in names)
    return lf.select(exprs)


def _checks(df: pl.DataFrame) -> list[tuple[str, pl.Expr]]:
    """(reason, predicate-that-flags-bad-rows) pairs, in reporting order."""
    checks: list[tuple[str, pl.Expr]] = [
        ("null time", pl.col("time").is_null()),
        ("negative time", pl.col("time") < 0),
        ("null success", pl.col("success").is_null()),
    ]
    for col in NON_EMPTY:
        checks.append(
            (f"empty {col}", pl.col(col).is_null() | (pl.col(col).str.strip_chars() == ""))
        )
    return checks


def validate(df: pl.DataFrame | pl.LazyFrame) -> ValidationReport:
    """Check a frame against the canonical schema; report bad rows, never raise on them.

    Values that cannot be cast to the column type (``"abc"`` for ``time``)
    become nulls and are reported as such. A row is rejected for the first
    check it fails; counts per reason and a few examples are kept.

    Raises:
        SchemaError: only when whole required columns are missing.
    """
    original = df.lazy().with_row_index("_row").collect()
    cast = conform(original.drop("_row")).collect().with_columns(original["_row"])
    reason = pl.lit(None, dtype=pl.String)
    for name, bad in reversed(_checks(cast)):
        reason = pl.when(bad.fill_null(False)).then(pl.lit(name)).otherwise(reason)
    tagged = cast.with_columns(reason.alias("_reason"))
    bad = tagged.filter(pl.col("_reason").is_not_null())
    report = ValidationReport(
        valid=tagged.filter(pl.col("_reason").is_null()).drop("_row", "_reason"),
        bad_rows=bad.height,
    )
    if bad.height:
        counts = bad.group_by("_reason").len()
        report.reasons = dict(zip(counts["_reason"], counts["len"], strict=True))
        for name in report.reasons:
            rows = bad.filter(pl.col("_reason") == name).head(MAX_EXAMPLES)
            ids = rows["_row"].to_list()
            report.examples[name] = original.filter(pl.col("_row").is_in(ids)).to_dicts()
    return report


# --------------------------------------------------------------------------------------
# Process / share / service events (Windows only; the events declarative rules need)
# --------------------------------------------------------------------------------------

#: Schema of ``DIR/process/part-*.parquet``: Windows events that are not
#: authentications but that rules evaluate (see ``ingest/windows/mapping/events.py``).
#:
#: Columns:
#:     time                 Int64    UTC seconds
#:     host                 String   host that logged the event (short upper-case name)
#:     user                 String   acting account as ``user@DOMAIN`` (null when unknown)
#:     event_code           Int32    Windows event id (4688, 5145, 7045, Sysmon 1, ...)
#:     kind                 String   process, share, service, network, privilege, task or pipe
#:     image                String   process image (4688 NewProcessName, Sysmon Image)
#:     command_line         String   process command line
#:     parent_image         String   parent process image
#:     parent_command_line  String   parent command line (Sysmon 1)
#:     share_name           String   share name without the ``\\*\`` prefix (``ADMIN$``)
#:     relative_target      String   file or pipe relative to the share (5145)
#:     access_mask          Int64    requested access mask (5140/5145)
#:     service_name         String   installed service name (7045, 4697)
#:     service_image        String   installed service binary path (7045 ImagePath,
#:                                   4697 ServiceFileName)
#:     logon_type           String   logon type when the event carries one
#:     logon_id             String   logon session id, ``0x`` + lower-case hex, no padding
#:     pid                  Int64    process id (4688 new process, Sysmon ProcessId)
#:     parent_pid           Int64    parent process id
#:     src_host             String   remote host of a share access / connection source
#:     src_ip               String   remote address (share access, connection source)
#:     dst_ip               String   connection destination address (Sysmon 3)
#:     dst_port             Int32    connection destination port (Sysmon 3)
#:     source               String   provenance: file name or ``splunk:<sid>``
#:     record               Int64    record number within ``source``
#:     service_account      String   account the service runs as (7045 AccountName,
#:                                   4697 ServiceAccount)
#:     task_name            String   scheduled task path (4698 created, 4702 updated)
#:     task_content         String   the task's XML (TaskContent / TaskContentNew)
#:     pipe_name            String   named pipe (Sysmon 17 created, 18 connected)
#:     original_file_name   String   the PE's original file name (Sysmon 1; null for 4688)
#:     integrity_level      String   Low, Medium, High or System (Sysmon 1 IntegrityLevel,
#:                                   4688 MandatoryLabel)
PROCESS_SCHEMA: pl.Schema = pl.Schema(
    {
        "time": pl.Int64(),
        "host": pl.String(),
        "user": pl.String(),
        "event_code": pl.Int32(),
        "kind": pl.String(),
        "image": pl.String(),
        "command_line": pl.String(),
        "parent_image": pl.String(),
        "parent_command_line": pl.String(),
        "share_name": pl.String(),
        "relative_target": pl.String(),
        "access_mask": pl.Int64(),
        "service_name": pl.String(),
        "service_image": pl.String(),
        "logon_type": pl.String(),
        "logon_id": pl.String(),
        "pid": pl.Int64(),
        "parent_pid": pl.Int64(),
        "src_host": pl.String(),
        "src_ip": pl.String(),
        "dst_ip": pl.String(),
        "dst_port": pl.Int32(),
        "source": pl.String(),
        "record": pl.Int64(),
        "service_account": pl.String(),
        "task_name": pl.String(),
        "task_content": pl.String(),
        "pipe_name": pl.String(),
        "original_file_name": pl.String(),
        "integrity_level": pl.String(),
    }
)

#: Values of ``PROCESS_SCHEMA["kind"]``.
PROCESS_KINDS = ("process", "share", "service", "network", "privilege", "task", "pipe")
