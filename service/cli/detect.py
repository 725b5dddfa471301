"""``hopwatch train|score|evaluate|explain`` for every registered detector.

Detectors are resolved through :mod:`models.registry`; all of them get the same
flags, and a detector ignores the options its constructor does not take. ``explain``
gives the top contributions behind one edge's score (and SHAP plots for XGBoost).
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

DETECTOR_HELP = "Detector name from the registry (gnn, xgb)."
ENSEMBLE_HELP = "GNN: members K of the score ensemble (default: the detector's)."


def detector_options(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``options`` (``None`` values dropped) that ``cls``'s constructor takes."""
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return {k: v for k, v in options.items() if v is not None}
    return {k: v for k, v in options.items() if v is not None and k in params}


def make_detector(name: str, options: dict[str, Any]) -> Any:
    """A fresh, untrained detector ``name`` built with the options it understands."""
    from models.registry import detector_class

    cls = detector_class(name)
    return cls(**detector_options(cls, options))


def load_detector(path: Path, name: str | None, device: str | None = None) -> Any:
    """Load a saved model, with the named detector class or by trying each registered one.

    Raises:
        typer.BadParameter: the file is missing or no detector can read it.
    """
    from models.base import ModelMismatch
    from models.registry import DETECTORS, detector_class

    if not path.is_file():
        raise typer.BadParameter(f"no model file at {path}", param_hint="--model")
    names = [name] if name else list(DETECTORS)
    errors = []
    for n in names:
        try:
            cls = detector_class(n)
        except (ImportError, AttributeError) as exc:
            errors.append(f"{n}: not available ({exc})")
            continue
        kwargs = {}
        if device is not None and "device" in inspect.signature(cls.load).parameters:
            kwargs["device"] = device
        try:
            return cls.load(path, **kwargs)
        except (ModelMismatch, ValueError, KeyError, OSError) as exc:
            errors.append(f"{n}: {exc}")
    raise typer.BadParameter(
        f"{path} could not be loaded: " + "; ".join(errors), param_hint="--model"
    )


def _store(data: Path) -> Any:
    from ingest.graphs import GraphStore

    try:
        return GraphStore(data)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _fail(msg: str) -> None:
    _err(f"error: {msg}")
    raise typer.Exit(code=1)


def train(
    data: Path = typer.Option(..., "--data", help="Data directory written by `hopwatch ingest`."),
    model: Path = typer.Option(..., "--model", help="Where to write the trained model."),
    detector: str = typer.Option("gnn", "--detector", help=DETECTOR_HELP),
    train_until: int | None = typer.Option(
        None,
        "--train-until",
        help="Train on windows before this time (seconds); "
        "default: before the first red-team event, or all windows without labels.",
    ),
    protocol: str = typer.Option("euler", "--protocol", help="euler or argus (split rule)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs/rounds."),
    hidden: int | None = typer.Option(None, "--hidden", help="Hidden size (GNN)."),
    ensemble: int | None = typer.Option(None, "--ensemble", help=ENSEMBLE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object last."),
) -> None:
    """Train a detector on the benign training windows of a data directory and save it."""
    from models.base import ModelMismatch
    from models.evaluate import EvaluationError, store_split

    store = _store(data)
    try:
        split = store_split(store, protocol=protocol, train_until=train_until)
        det = make_detector(
            detector,
            {
                "device": device,
                "seed": seed,
                "epochs": epochs,
                "hidden": hidden,
                "ensemble": ensemble,
                "log": _err,
            },
        )
        report = det.fit(store, split.fit_windows)
        det.save(model)
    except (EvaluationError, ModelMismatch, KeyError, ValueError) as exc:
        _fail(str(exc))
    summary = {
        "detector": detector,
        "model": str(model),
        "fit_windows": [split.fit_windows[0], split.fit_windows[-1]],
        **{k: v for k, v in report.items() if isinstance(v, int | float | str | list)},
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"trained {detector} on windows {split.fit_windows[0]}..{split.fit_windows[-1]} "
            f"of {data}; saved {model}"
        )


def score(
    model: Path = typer.Option(..., "--model", help="A model written by `hopwatch train`."),
    data: Path = typer.Option(..., "--data", help="Data directory to score."),
    out: Path = typer.Option(..., "--out", help="Output file (.parquet, or .csv)."),
    detector: str | None = typer.Option(None, "--detector", help="Default: detect."),
    start: int | None = typer.Option(None, "--start", help="First window id to score."),
    end: int | None = typer.Option(None, "--end", help="Score windows before this id."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda."),
) -> None:
    """Score every edge of a data directory (columns window, src_host, dst_host, score)."""
    from models.base import ModelMismatch

    store = _store(data)
    det = load_detector(model, detector, device)
    windows = [
        w for w in store.windows if (start is None or w >= start) and (end is None or w < end)
    ]
    try:
        scores = det.score(store, windows)
    except ModelMismatch as exc:
        _fail(str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        scores.write_csv(out)
    else:
        scores.write_parquet(out)
    typer.echo(f"scored {scores.height} edges in {len(windows)} windows -> {out}")


def evaluate(
    data: Path = typer.Option(..., "--data", help="Labelled data directory."),
    detector: str = typer.Option(
        "gnn",
        "--detector",
        help="Detector name (gnn, xgb), or all: the alerts as the service "
        "builds them (every detector, the rules, the alerting stage).",
    ),
    models: list[str] = typer.Option(
        [],
        "--model",
        help="A trained model; when absent or missing one is trained on the split (and saved "
        "there when a path is given). With --detector all: NAME=PATH, repeatable (default: "
        "the settings' models, HOPWATCH_MODELS__GNN / __XGB; others are trained).",
    ),
    protocol: str = typer.Option("euler", "--protocol", help="euler or argus."),
    train_until: int | None = typer.Option(None, "--train-until", help="Split time (s)."),
    threshold_fpr: float = typer.Option(
        0.005, "--threshold-fpr", help="Target FPR of the threshold on held-out windows."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed (when training)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs (when training)."),
    hidden: int | None = typer.Option(None, "--hidden", help="Hidden size (when training)."),
    ensemble: int | None = typer.Option(None, "--ensemble", help=ENSEMBLE_HELP),
    truth: Path | None = typer.Option(
        None,
        "--truth",
        help="With --detector all: the simulator's campaigns.json (true "
        "campaigns); default: campaigns from the labels.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object last."),
) -> None:
    """Evaluate a detector beside the unknown-authentication baseline (``--detector all``:
    the alerts, campaigns and queue as the service builds them)."""
    from models.base import ModelMismatch
    from models.evaluate import EvaluationError, evaluate, format_table

    store = _store(data)
    options = {
        "device": device,
        "seed": seed,
        "epochs": epochs,
        "hidden": hidden,
        "ensemble": ensemble,
        "log": _err,
    }
    if detector == "all":
        _evaluate_all(store, models, options, protocol, train_until, threshold_fpr, truth, as_json)
        return
    if len(models) > 1 or any("=" in m for m in models):
        raise typer.BadParameter("one model path for one detector", param_hint="--model")
    model = Path(models[0]) if models else None
    try:
        if model is not None and model.is_file():
            target: Any = load_detector(model, detector, device)
        else:
            target = lambda: make_detector(detector, options)  # noqa: E731
        result = evaluate(
            target,
            store,
            protocol=protocol,
            train_until=train_until,
            threshold_fpr=threshold_fpr,
        )
        if model is not None and result.fitted is not None:
            result.fitted.save(model)  # keep the freshly trained model where asked
    except (EvaluationError, ModelMismatch, KeyError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        _err(format_table(result))
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
    else:
        typer.echo(format_table(result))


def model_paths(items: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` items of ``--model`` (with ``--detector all``) -> name -> path, over the
    settings' models (``HOPWATCH_MODELS__*``, the config file).

    Raises:
        typer.BadParameter: an item that is not NAME=PATH with a registered NAME.
    """
    from models.registry import DETECTORS
    from service.settings import SettingsError, load_settings

    try:
        paths = dict(load_settings().models.paths())
    except SettingsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model") from None
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or name not in DETECTORS or not path:
            raise typer.BadParameter(
                f"expected NAME=PATH with NAME one of {', '.join(sorted(DETECTORS))}; got {item!r}",
                param_hint="--model",
            )
        paths[name] = Path(path)
    return paths


def _evaluate_all(
    store: Any,
    models: list[str],
    options: dict[str, Any],
    protocol: str,
    train_until: int | None,
    threshold_fpr: float,
    truth: Path | None,
    as_json: bool,
) -> None:
    """``hopwatch evaluate --detector all``: see :mod:`detections.alerting.evaluation`."""
    from detections.alerting import evaluate_alerts
    from detections.alerts import SEVERITIES
    from detections.rules import load_rules
    from models.base import ModelMismatch
    from models.evaluate import EvaluationError
    from models.registry import DETECTORS

    paths = model_paths(models)
    detectors: dict[str, Any] = {}
    for name in sorted(DETECTORS):
        path = paths.get(name)
        if path is not None and path.is_file():
            detectors[name] = load_detector(path, name, options.get("device"))
        else:
            detectors[name] = lambda name=name: make_detector(name, options)
    truth_data = json.loads(truth.read_text()) if truth is not None else None
    try:
        result = evaluate_alerts(
            detectors,
            store,
            protocol=protocol,
            train_until=train_until,
            threshold_fpr=threshold_fpr,
            rules=load_rules(None),
            truth=truth_data,
        )
    except (EvaluationError, ModelMismatch, KeyError, ValueError) as exc:
        _fail(str(exc))
    for name, det in result.fitted.items():
        if paths.get(name) is not None:
            det.save(paths[name])  # keep a freshly trained model where asked
    out = result.as_dict()
    q = result.quality
    lines = [
        f"alerts {q['alerts']} ({q['true_alerts']} true), "
        f"{q['alerts_per_day_per_1000_hosts']:.2f} per day per 1,000 hosts; "
        f"suppressed {q['suppressed']} ({q['suppressed_true']} true)",
        "precision by severity: "
        + ", ".join(
            f"{s} {v['true']}/{v['alerts']}"
            for s, v in q["precision_by_severity"].items()
            if s in (*SEVERITIES, "high+critical")
        ),
        f"campaigns {q['campaigns']}: recall {q['campaigns_found']}/{q['true_campaigns']}, "
        f"precision {_pct(q['campaign_precision'])}, false per day per 1,000 hosts "
        f"{q['false_campaigns_per_day_per_1000_hosts']:.2f}",
        f"queue: AUC {out['auc']:.4f} AP {out['ap']:.3f} FP/day at 50% recall "
        f"{_num(out['fp_per_day_at_recall_0_5'])}, at 80% {_num(out['fp_per_day_at_recall_0_8'])}",
    ]
    for name, m in result.detectors.items():
        lines.append(
            f"{name}: AUC {m.auc:.4f} AP {m.ap:.3f} FP/day at 50% recall "
            f"{m.fp_per_day_at_recall_0_5:.1f} (threshold {result.thresholds[name]:.4g})"
        )
    base = result.baseline["unknown_auth"]
    lines.append(f"unknown_auth: AUC {base.auc:.4f} AP {base.ap:.4f}")
    if as_json:
        _err("\n".join(lines))
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        typer.echo("\n".join(lines))


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def parse_edge(text: str) -> tuple[int, str, str]:
    """``"WINDOW,SRC,DST"`` -> ``(window, src, dst)``.

    Raises:
        typer.BadParameter: not three comma-separated parts or a non-integer window.
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise typer.BadParameter(f"expected WINDOW,SRC,DST, got {text!r}", param_hint="--edge")
    try:
        window = int(parts[0])
    except ValueError:
        raise typer.BadParameter(
            f"window must be an integer, got {parts[0]!r}", param_hint="--edge"
        ) from None
    return window, parts[1], parts[2]


def _printable(text: str) -> str:
    """Host names come from logs (attacker-controlled): escape anything unprintable."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _is_xgb_model(path: Path) -> bool:
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        if "detector.json" not in z.namelist():
            return False
        return json.loads(z.read("detector.json")).get("detector") == "xgb"


def explain(
    model: Path = typer.Option(..., "--model", help="A model written by `hopwatch train`."),
    data: Path = typer.Option(..., "--data", help="Data directory holding the edge."),
    edge: str = typer.Option(..., "--edge", help="WINDOW,SRC,DST of the edge to explain."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write the edge's SHAP waterfall to this PNG (xgb)."
    ),
    summary_plot: Path | None = typer.Option(
        None, "--summary-plot", help="Write a SHAP summary of the edge's window to this PNG."
    ),
    top: int = typer.Option(5, "--top", min=1, help="Contributions to show."),
    detector: str | None = typer.Option(
        None, "--detector", help="Detector name (default: recognised from the file)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Explain one edge's anomaly score with its top contributions in analyst words."""
    from models.base import ModelMismatch

    key = parse_edge(edge)
    store = _store(data)
    if detector is None and model.is_file() and _is_xgb_model(model):
        detector = "xgb"
    det = load_detector(model, detector, device)
    try:
        (exp,) = det.explain(store, [key], top=top)
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(code=1) from None
    except ModelMismatch as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    written = {}
    if plot is not None or summary_plot is not None:
        if not hasattr(det, "explain_frame"):
            typer.echo(f"error: detector {det.name!r} draws no SHAP plots", err=True)
            raise typer.Exit(code=1)
        from models.xgb.features.table import feature_matrix
        from models.xgb.plots import summary_plot as draw_summary
        from models.xgb.plots import waterfall_plot

        if plot is not None:
            rows, shap = det.explain_frame(store, [key])
            title = f"window {key[0]}: {_printable(key[1])} -> {_printable(key[2])}"
            written["plot"] = str(waterfall_plot(shap, feature_matrix(rows), 0, plot, title=title))
        if summary_plot is not None:
            feats = det.features(store, [key[0]])
            x = feature_matrix(feats)
            written["summary_plot"] = str(draw_summary(det.shap_values(x), x, summary_plot))
    if as_json:
        typer.echo(json.dumps({**asdict(exp), **written}))
        return
    typer.echo(
        f"window {exp.window}  {_printable(exp.src_host)} -> {_printable(exp.dst_host)}  "
        f"score {exp.score:.4f}"
    )
    for c in exp.contributions:
        value = c.value if isinstance(c.value, str) else f"{c.value:g}"
        typer.echo(f"  {c.contribution:+.3f}  {c.feature} = {value}: {c.text}")
    for name, path in written.items():
        typer.echo(f"{name}: {path}")
