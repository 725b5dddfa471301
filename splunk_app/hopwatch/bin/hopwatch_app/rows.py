"""API objects to Splunk rows, and the time and name arguments of the commands (pure)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any

_RELATIVE = re.compile(r"^-(\d{1,9})(s|m|h|d|w)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def iso(seconds: Any) -> str:
    """UTC seconds as ``YYYY-MM-DDTHH:MM:SSZ``."""
    stamp = datetime.fromtimestamp(int(seconds), timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_since(text: str | None, now: float | None = None) -> int | None:
    """``since=`` as UTC seconds: ``-24h``/``-7d`` (s, m, h, d, w), epoch seconds, or an
    ISO 8601 date or time (UTC unless it has an offset). None when empty.

    Raises:
        ValueError: anything else (the command reports it as an illegal value).
    """
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    match = _RELATIVE.match(text)
    if match:
        base = time.time() if now is None else now
        return max(0, int(base) - int(match.group(1)) * _UNIT[match.group(2)])
    if text.isdigit():
        return int(text)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"since={text!r}: use -24h, -7d (s, m, h, d, w), epoch seconds or 2024-05-01T00:00:00Z"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return max(0, int(stamp.timestamp()))


def hopwatch_user(value: str | None) -> str | None:
    """A user filter in hopwatch's ``name@DOMAIN`` form: ``DOM\\name`` (as Windows and the
    Splunk Add-on for Windows write it) becomes ``name@DOM`` (name lower-case, domain
    upper-case, first label); anything else is passed as given."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if "\\" not in text:
        return text
    domain, name = text.split("\\", 1)
    return "{}@{}".format(name.lower(), domain.split(".")[0].upper() or "?")


def hopwatch_host(value: str | None) -> str | None:
    """A host filter without the leading ``\\\\`` Windows writes before workstation names."""
    if value is None or not str(value).strip():
        return None
    return str(value).strip().lstrip("\\")


def mv(values: Any) -> Any:
    """A multivalue field: the list, or "" when empty (so the field still exists)."""
    values = list(values or [])
    return values if values else ""


def alert_row(item: dict[str, Any]) -> dict[str, Any]:
    """One alert (as listed, or in detail) as a Splunk row."""
    row: dict[str, Any] = {
        "_time": item["time"],
        "alert_id": item["id"],
        "first_seen": iso(item["time"]),
        "last_seen": iso(item["last_time"]),
        "window": item.get("window"),
        "src_host": item["src_host"],
        "dst_host": item["dst_host"],
        "user": item["user"],
        "score": item["score"],
        "detector": item["detector"],
        "severity": item["severity"],
        "status": item["status"],
        "verdict": item.get("verdict") or "",
        "campaign_id": item.get("campaign_id") or "",
        "techniques": mv(item.get("techniques")),
    }
    for name in ("gnn", "xgb", "rules"):
        row["score_" + name] = (item.get("scores") or {}).get(name, "")
    if "explanation" in item:  # the detail of one alert
        row["explanation"] = mv(
            [
                "{} = {} ({:+.3f}): {}".format(
                    e.get("feature"),
                    e.get("value"),
                    float(e.get("contribution") or 0),
                    e.get("text"),
                )
                for e in item.get("explanation") or []
            ]
        )
        row["rules"] = mv(
            "{}: {}".format(h["rule_id"], h["title"]) for h in item.get("rule_hits") or []
        )
        row["evidence"] = mv(item.get("evidence"))
        row["src_ips"] = mv(item.get("src_ips"))
        row["users"] = mv(item.get("users"))
        row["note"] = item.get("note") or ""
    row["_raw"] = json.dumps(item, sort_keys=True)
    return row


def campaign_status(alerts: list[dict[str, Any]]) -> str:
    """``open`` while any of the campaign's alerts is not closed, else ``closed``."""
    return "open" if any(a.get("status") != "closed" for a in alerts) else "closed"


def hop_path(hops: list[dict[str, Any]]) -> str:
    """``A -> B -> C``: the first source, then each hop's destination in order."""
    if not hops:
        return ""
    path = [hops[0].get("src_host")]
    for hop in hops:
        if hop.get("src_host") != path[-1]:
            path.append(hop.get("src_host"))
        path.append(hop.get("dst_host"))
    return " -> ".join(str(h) for h in path)


def campaign_row(detail: dict[str, Any]) -> dict[str, Any]:
    """One campaign (``GET /campaigns/{id}``) as a Splunk row with its ordered hop path."""
    hops = list(detail.get("hops") or [])
    alerts = list(detail.get("alerts") or [])
    return {
        "_time": detail["first_time"],
        "campaign_id": detail["id"],
        "status": campaign_status(alerts),
        "severity": detail["severity"],
        "max_score": detail["max_score"],
        "alert_count": detail["alert_count"],
        "open_alerts": sum(1 for a in alerts if a.get("status") != "closed"),
        "first_seen": iso(detail["first_time"]),
        "last_seen": iso(detail["last_time"]),
        "hop_path": hop_path(hops),
        "hops": mv(
            [
                "%d. %s %s -> %s as %s (alert %s)"
                % (
                    i + 1,
                    iso(h.get("time", 0)),
                    h.get("src_host"),
                    h.get("dst_host"),
                    h.get("user"),
                    h.get("alert_id"),
                )
                for i, h in enumerate(hops)
            ]
        ),
        "hop_count": len(hops),
        "hosts": mv(detail.get("hosts")),
        "users": mv(detail.get("users")),
        "techniques": mv(detail.get("techniques")),
        "alert_ids": mv(a["id"] for a in alerts),
        "_raw": json.dumps({k: v for k, v in detail.items() if k != "alerts"}, sort_keys=True),
    }


def summary_fields(summary: dict[str, Any] | None, status: str) -> dict[str, Any]:
    """The fields ``hopwatchsummary`` adds to a row."""
    summary = summary or {}
    return {
        "summary": summary.get("text", ""),
        "summary_status": status,
        "summary_source": summary.get("source", ""),
        "summary_grounded": summary.get("grounded", ""),
        "summary_model": summary.get("model", ""),
        "summary_created": summary.get("created_at", ""),
    }


__all__ = [
    "alert_row",
    "campaign_row",
    "campaign_status",
    "hop_path",
    "hopwatch_host",
    "hopwatch_user",
    "iso",
    "mv",
    "parse_since",
    "summary_fields",
]
