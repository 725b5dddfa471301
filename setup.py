"""Install-time build of the fast LANL kernels (everything else is in pyproject.toml).

``pip install`` compiles the numba kernels of ``ingest/lanl/fast/kernels`` ahead of time
into an extension module (``ingest/lanl/fast/kernels/aot.py``), so no run compiles. The
extension is optional: without a C compiler the install goes on and the kernels are
compiled by numba's JIT on first use instead.
"""

import sys
import types
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def kernel_extensions() -> list:
    # Import the kernel modules alone: the packages above them import Polars and more,
    # which the isolated build environment does not have (it has numba and numpy).
    for name in ("ingest", "ingest.lanl", "ingest.lanl.fast"):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(ROOT.joinpath(*name.split(".")))]
            sys.modules[name] = package
    try:
        from ingest.lanl.fast.kernels.aot import extension
    except ImportError as exc:  # no numba in the build environment
        print(f"warning: fast LANL kernels not compiled ahead of time: {exc}", file=sys.stderr)
        return []
    return [extension()]


setup(ext_modules=kernel_extensions())
