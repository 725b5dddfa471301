"""Run Splunk AppInspect on the packaged app (cloud vetting, precert mode) and fail on
any failure or error.

    python splunk_app/appinspect_gate.py --appinspect .venv-splunk/bin/splunk-appinspect \
        dist/hopwatch_splunk-0.1.0.tgz

Prints the summary (checks run, failures, errors, manual checks, warnings) and the
checks that did not pass outright, with their first message; exit status 1 when
there is a failure or an error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appinspect", required=True, help="the splunk-appinspect executable")
    parser.add_argument("package", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "appinspect.json"
        done = subprocess.run(
            [args.appinspect, "inspect", str(args.package), "--mode", "precert",
             "--included-tags", "cloud", "--data-format", "json", "--output-file", str(report)],
            capture_output=True, text=True,
        )  # fmt: skip
        if not report.exists():
            print(f"appinspect: no report\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
            return 1
        data = json.loads(report.read_text())
    summary = data["summary"]
    checks = [c for r in data["reports"] for g in r["groups"] for c in g["checks"]]
    run = len([c for c in checks if c["result"] not in ("not_applicable", "skipped")])
    print(f"AppInspect {args.package.name} (precert, cloud): {len(checks)} checks, {run} applied")
    for key in ("failure", "error", "manual_check", "future_failure", "warning", "success"):
        print(f"  {key:15s} {summary.get(key, 0)}")
    for check in checks:
        if check["result"] not in ("success", "not_applicable", "skipped"):
            first = check["messages"][0]["message"] if check["messages"] else ""
            print(f"  [{check['result']}] {check['name']}: {' '.join(first.split())[:200]}")
    return 1 if summary.get("failure", 0) or summary.get("error", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
