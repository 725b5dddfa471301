"""The analyst triage page: one static HTML page, its script and its style sheet.

The page itself needs no key (it holds no data); every data call it makes sends
the key the analyst typed (kept in ``sessionStorage``) to the ordinary API
routes. It is served with a Content-Security-Policy that allows only this
origin's script, style and fetches: nothing loads from the internet, and inline
script is refused. The script inserts API text only with ``textContent``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response

router = APIRouter(tags=["triage"], include_in_schema=False)

STATIC = Path(__file__).resolve().parents[1] / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_FILES = {
    "triage.html": "text/html; charset=utf-8",
    "triage.js": "text/javascript; charset=utf-8",
    "triage.css": "text/css; charset=utf-8",
}


def _file(name: str) -> Response:
    return Response((STATIC / name).read_bytes(), media_type=_FILES[name], headers=HEADERS)


@router.get("/triage")
def triage_page() -> Response:
    """The triage page (no key needed; its data calls need one)."""
    return _file("triage.html")


@router.get("/triage/triage.js")
def triage_script() -> Response:
    """The triage page's script."""
    return _file("triage.js")


@router.get("/triage/triage.css")
def triage_style() -> Response:
    """The triage page's style sheet."""
    return _file("triage.css")
