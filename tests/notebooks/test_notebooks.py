"""Every notebook in ``notebooks/`` runs to the end against the demo deployment.

Each is executed with papermill (its ``parameters`` cell overridden to point at the demo)
in the ``hopwatch`` kernel that ``make install`` registers in the project's venv; the
executed copy goes to ``notebooks/executed/`` (ignored by git), and a failing one is kept
there as ``NAME-err.ipynb`` (msticpy's convention) with the failing cell's traceback.
The committed notebooks carry no outputs.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import EVTX_DIR, ROOT
from tests.notebooks.conftest import Deployment

NOTEBOOK_DIR = ROOT / "notebooks"
EXECUTED = NOTEBOOK_DIR / "executed"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
KERNEL = "hopwatch"
EXPECTED = (
    "01-triage",
    "02-hunt-lateral-movement",
    "03-detector-evaluation",
    "04-bring-your-own-logs",
)


def parameters(name: str, deployment: Deployment) -> dict[str, Any]:
    """What each notebook's ``parameters`` cell is set to for the demo."""
    demo = deployment.demo
    api = {"api_url": deployment.url, "api_key": demo.api_key}
    if name.startswith("01-"):
        return {**api, "verdict": "true_positive", "note": "confirmed in CI (01-triage)"}
    if name.startswith("02-"):
        return {**api, "data_dir": str(demo.data)}
    if name.startswith("03-"):
        return {
            **api,
            "data_dir": str(demo.data),
            "model_dir": str(demo.models),
            "campaigns_file": str(demo.sim / "campaigns.json"),
        }
    if name.startswith("04-"):
        # the real EVTX samples when ../shared is there, else the demo's own Windows logs
        logs = EVTX_DIR if EVTX_DIR.is_dir() else demo.sim / "system.xml"
        return {"logs": [str(logs)]}
    raise AssertionError(f"no parameters for {name}")


def test_every_notebook_is_here():
    assert tuple(p.stem for p in NOTEBOOKS) == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path: Path):
    """No outputs or execution counts committed; a tagged parameters cell; the project's
    kernel; a closing 'What this tells you' cell."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs (clear them before committing)"
    assert all(c.execution_count is None for c in code), f"{path.name}: execution counts"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code", path.name
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    assert "papermill" not in nb.metadata, f"{path.name}: an executed copy was committed"
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "what this tells you" in last.source.lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_the_demo(path: Path, deployment: Deployment):
    import papermill
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.fail(f"jupyter kernel {KERNEL!r} is not installed: run `make install`")
    EXECUTED.mkdir(exist_ok=True)
    out = EXECUTED / path.name
    err = EXECUTED / f"{path.stem}-err.ipynb"
    err.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path),
            str(out),
            parameters=parameters(path.stem, deployment),
            kernel_name=KERNEL,
            cwd=str(NOTEBOOK_DIR),
            progress_bar=False,
            log_output=False,
            execution_timeout=300,
            start_timeout=120,
        )
    except papermill.PapermillExecutionError as exc:
        out.rename(err)
        pytest.fail(
            f"{path.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"{exc.source}\n(executed copy: {err})"
        )
    seconds = time.perf_counter() - t0
    _record_time(path.stem, seconds)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} drew no figure"
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    CHECKS[path.stem[:2]](text, deployment)


def _triaged(text: str, deployment: Deployment) -> None:
    """The verdict went back through the API: closed, true positive, the note kept."""
    from service.client import HopwatchClient

    with HopwatchClient(deployment.url, deployment.demo.api_key) as hw:
        closed = hw.alerts(status="closed")
        assert closed.height and set(closed["verdict"]) == {"true_positive"}
        assert closed["campaign_id"].n_unique() == 1
        detail = hw.alert(int(closed["id"][0]))
    assert detail.note == "confirmed in CI (01-triage)"
    assert detail.history["actor"].to_list() == ["notebooks"]
    assert "grounded=True" in text


def _hunted(text: str, deployment: Deployment) -> None:
    found = re.search(r"(\d+) narrow leads to pursue", text)
    assert found, "no hunt output"
    assert "analytic III skipped" not in text  # the demo is Windows logs: shares are there


def _evaluated(text: str, deployment: Deployment) -> None:
    for key in ("alerts_per_day_per_1000_hosts", "campaign_recall", "campaign_precision"):
        assert f'"{key}"' in text, key
    assert "the simulator's campaigns.json" in text


def _read_logs(text: str, deployment: Deployment) -> None:
    found = re.search(r"(\d+) rules, (\d+) hits", text)
    assert found and int(found[1]) > 0 and int(found[2]) > 0, "no rule hit on the logs"


CHECKS = {"01": _triaged, "02": _hunted, "03": _evaluated, "04": _read_logs}


def _record_time(name: str, seconds: float) -> None:
    """Append the run's wall time to ``executed/timings.json`` (reported by make)."""
    file = EXECUTED / "timings.json"
    times = json.loads(file.read_text()) if file.is_file() else {}
    times[name] = round(seconds, 1)
    file.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
