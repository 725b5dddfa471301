"""`hopwatch explain`: why did one edge get its score (top contributions, SHAP plots)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer


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


def _safe(text: str) -> str:
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


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``explain`` to the root app."""

    @app.command()
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
        from service.commands.detect import _store, load_detector

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
            from models.features import feature_matrix
            from models.shap_plots import summary_plot as draw_summary
            from models.shap_plots import waterfall_plot

            if plot is not None:
                rows, shap = det.explain_frame(store, [key])
                title = f"window {key[0]}: {_safe(key[1])} -> {_safe(key[2])}"
                written["plot"] = str(
                    waterfall_plot(shap, feature_matrix(rows), 0, plot, title=title)
                )
            if summary_plot is not None:
                feats = det.features(store, [key[0]])
                x = feature_matrix(feats)
                written["summary_plot"] = str(draw_summary(det.shap_values(x), x, summary_plot))
        if as_json:
            typer.echo(json.dumps({**asdict(exp), **written}))
            return
        typer.echo(
            f"window {exp.window}  {_safe(exp.src_host)} -> {_safe(exp.dst_host)}  "
            f"score {exp.score:.4f}"
        )
        for c in exp.contributions:
            value = c.value if isinstance(c.value, str) else f"{c.value:g}"
            typer.echo(f"  {c.contribution:+.3f}  {c.feature} = {value}: {c.text}")
        for name, path in written.items():
            typer.echo(f"{name}: {path}")
