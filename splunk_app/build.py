"""Stage the Splunk app with splunklib vendored, and package it with Splunk's
packaging toolkit (``slim package``).

    python splunk_app/build.py --stage build/splunk_app            # stage only
    python splunk_app/build.py --stage build/splunk_app --slim .venv-splunk/bin/slim --dist dist

Staging copies ``splunk_app/hopwatch`` (without caches or ``local/``) and the
splunklib package of the running interpreter's splunk-sdk (2.1.x) into
``<stage>/hopwatch/lib/``. Packaging runs ``slim package`` (which validates
``app.manifest`` against ``app.conf``) and names the result
``<dist>/hopwatch_splunk-<version>.tgz``. Prints the package path.
"""

from __future__ import annotations

import argparse
import configparser
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

APP = Path(__file__).resolve().parent / "hopwatch"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "local", "local.meta", ".*")


class BuildError(Exception):
    """The app cannot be staged or packaged."""


def app_version(app: Path) -> str:
    """The version app.conf, app.manifest and ``hopwatch_app.APP_VERSION`` all give."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(app / "default" / "app.conf")
    versions = {
        "default/app.conf": conf.get("launcher", "version"),
        "app.manifest": json.loads((app / "app.manifest").read_text())["info"]["id"]["version"],
    }
    for line in (app / "bin" / "hopwatch_app" / "__init__.py").read_text().splitlines():
        if line.startswith("APP_VERSION"):
            versions["bin/hopwatch_app/__init__.py"] = line.split("=")[1].strip().strip("\"'")
    if len(set(versions.values())) != 1:
        raise BuildError(f"the app's versions differ: {versions}")
    return versions["default/app.conf"]


def stage(out: Path, savedsearches: Path | None = None) -> Path:
    """``out/hopwatch``: the app with ``lib/splunklib`` from the installed splunk-sdk 2.1.x,
    and ``default/savedsearches.conf`` (``hopwatch rules export --target splunk``) when given."""
    import splunklib

    if not splunklib.__version__.startswith("2.1."):
        raise BuildError(f"splunk-sdk {splunklib.__version__} installed; the app vendors 2.1.x")
    app_version(APP)
    target = out / "hopwatch"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(APP, target, ignore=IGNORE)
    if savedsearches is not None:  # hopwatch's Sigma rules as SPL, every stanza disabled
        shutil.copyfile(savedsearches, target / "default" / "savedsearches.conf")
    lib = target / "lib"
    shutil.copytree(Path(splunklib.__file__).parent, lib / "splunklib", ignore=IGNORE)
    (lib / "README.txt").write_text(
        f"splunklib {splunklib.__version__}, from the splunk-sdk package on PyPI "
        "(https://github.com/splunk/splunk-sdk-python), Apache License 2.0 (../LICENSE.txt).\n"
        "Vendored unchanged by `make splunk-app`; the app's own code is in ../bin.\n"
    )
    return target


def package(staged: Path, slim: str, dist: Path) -> Path:
    """``dist/hopwatch_splunk-<version>.tgz`` built by ``slim package``."""
    version = app_version(staged)
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [slim, "package", str(staged), "--output-dir", tmp],
            capture_output=True,
            text=True,
        )
        built = list(Path(tmp).glob("*.tar.gz"))
        if done.returncode != 0 or len(built) != 1:
            raise BuildError(f"slim package failed:\n{done.stdout}{done.stderr}")
        result = dist / f"hopwatch_splunk-{version}.tgz"
        shutil.move(str(built[0]), result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", type=Path, required=True, help="staging folder")
    parser.add_argument("--slim", help="the slim executable (packaging toolkit)")
    parser.add_argument("--dist", type=Path, default=Path("dist"), help="package folder")
    parser.add_argument(
        "--savedsearches", type=Path, help="savedsearches.conf from `hopwatch rules export`"
    )
    args = parser.parse_args(argv)
    try:
        staged = stage(args.stage, args.savedsearches)
        print(package(staged, args.slim, args.dist) if args.slim else staged)
    except BuildError as exc:
        print(f"splunk-app: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
