"""``HopwatchClient``: the REST API from Python, for notebooks and scripts.

One ``httpx.Client`` per instance (connections are kept alive); every call sends the API
key as ``X-API-Key``. Listing calls follow ``next_cursor`` until the filters are
exhausted (or ``limit`` rows are read) and return one Polars frame; a refusal raises
the :class:`~service.client.errors.ApiError` subclass for its status with the API's
message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import httpx
import polars as pl

from service.client.errors import ApiUnreachable, error_for
from service.client.records import (
    Alert,
    AlertDetail,
    CampaignDetail,
    EventsAccepted,
    Summary,
    alerts_frame,
    campaigns_frame,
)

Sort = Literal["-time", "time", "-score", "score", "-id", "id", "-priority", "priority"]
Time = int | datetime
#: Rows asked for per page (the server caps it at its ``api.max_page``).
PAGE_SIZE = 500


def _seconds(value: Time | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if value.tzinfo is None:
        raise ValueError(f"give an aware datetime (UTC), got naive {value.isoformat()}")
    return int(value.timestamp())


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class HopwatchClient:
    """A client of one hopwatch API.

    Args:
        url: the API's base URL, e.g. ``http://127.0.0.1:8000``.
        api_key: a key from ``hopwatch apikey create`` (or printed by ``hopwatch demo``);
            ``read`` scope reads, ``write`` also triages and summarizes.
        timeout: seconds per request (summaries may take a while on CPU).
        page_size: rows asked for per page when listing.
        transport: an ``httpx`` transport (tests, proxies); default the network.

    Example::

        with HopwatchClient("http://127.0.0.1:8000", key) as hw:
            top = hw.alerts(min_score=0.9, sort="-score", limit=20)
            alert = hw.alert(int(top["id"][0]))
            hw.triage(alert.id, status="triaged", note="asked the server owner")
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        page_size: int = PAGE_SIZE,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.url = url.rstrip("/")
        self.page_size = page_size
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:  # never shows the key
        return f"HopwatchClient({self.url!r})"

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> HopwatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.url}{path}"
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiUnreachable(
                f"no answer in time ({exc.__class__.__name__})", method=method, url=url
            ) from exc
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"cannot reach the API ({exc})", method=method, url=url) from exc
        if response.is_success:
            return response.json()
        try:
            body = response.json()
            detail = body.get("detail", body) if isinstance(body, dict) else body
        except ValueError:
            detail = response.text[:300] or response.reason_phrase
        raise error_for(response.status_code, detail, method=method, url=url)

    def _pages(self, path: str, params: dict[str, Any], limit: int | None) -> Iterator[dict]:
        """Items of every page of ``path`` (following ``next_cursor``), at most ``limit``."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        seen, cursor = 0, None
        while limit is None or seen < limit:
            size = self.page_size if limit is None else min(self.page_size, limit - seen)
            page = self._request(
                "GET", path, params={**params, "limit": size, **_params(cursor=cursor)}
            )
            for item in page["items"][: None if limit is None else limit - seen]:
                seen += 1
                yield item
            cursor = page.get("next_cursor")
            if cursor is None or not page["items"]:
                return

    # -- routes ----------------------------------------------------------------------

    def health(self) -> dict[str, str]:
        """``GET /health`` (no key needed): ``{"status": "ok", "database": "ok"}``.

        Raises:
            ServiceUnavailable: the API is up but its database is not.
        """
        return self._request("GET", "/health")

    def iter_alerts(
        self,
        *,
        start: Time | None = None,
        end: Time | None = None,
        min_score: float | None = None,
        host: str | None = None,
        src_host: str | None = None,
        dst_host: str | None = None,
        user: str | None = None,
        status: str | None = None,
        severity: str | None = None,
        detector: str | None = None,
        rule: str | None = None,
        campaign: int | None = None,
        suppressed: bool | None = None,
        sort: Sort = "-time",
        limit: int | None = None,
    ) -> Iterator[Alert]:
        """Alerts matching every given filter, as records, fetched a page at a time.

        The filters are those of ``GET /alerts`` (docs/service.md), combined with AND;
        ``start`` and ``end`` take UTC seconds or aware datetimes; with ``detector``,
        ``min_score`` applies to that detector's score. ``limit``: at most that many.
        """
        params = _params(
            start=_seconds(start),
            end=_seconds(end),
            min_score=min_score,
            host=host,
            src_host=src_host,
            dst_host=dst_host,
            user=user,
            status=status,
            severity=severity,
            detector=detector,
            rule=rule,
            campaign=campaign,
            suppressed=None if suppressed is None else str(bool(suppressed)).lower(),
            sort=sort,
        )
        for item in self._pages("/alerts", params, limit):
            yield Alert.from_json(item)

    def alerts(
        self,
        *,
        start: Time | None = None,
        end: Time | None = None,
        min_score: float | None = None,
        host: str | None = None,
        src_host: str | None = None,
        dst_host: str | None = None,
        user: str | None = None,
        status: str | None = None,
        severity: str | None = None,
        detector: str | None = None,
        rule: str | None = None,
        campaign: int | None = None,
        suppressed: bool | None = None,
        sort: Sort = "-time",
        limit: int | None = None,
    ) -> pl.DataFrame:
        """The alerts of :meth:`iter_alerts` (same filters) as one frame: the columns of
        :data:`~service.client.records.ALERT_SCHEMA` plus ``score_<detector>``; every page
        is read unless ``limit`` rows come first."""
        params = _params(
            start=_seconds(start),
            end=_seconds(end),
            min_score=min_score,
            host=host,
            src_host=src_host,
            dst_host=dst_host,
            user=user,
            status=status,
            severity=severity,
            detector=detector,
            rule=rule,
            campaign=campaign,
            suppressed=None if suppressed is None else str(bool(suppressed)).lower(),
            sort=sort,
        )
        return alerts_frame(list(self._pages("/alerts", params, limit)))

    def alert(self, alert_id: int) -> AlertDetail:
        """``GET /alerts/{id}``: the alert with its explanation, rule hits, campaign, history.

        Raises:
            NotFoundError: no such alert.
        """
        return AlertDetail.from_json(self._request("GET", f"/alerts/{int(alert_id)}"))

    def triage(
        self,
        alert_id: int,
        *,
        status: str | None = None,
        verdict: str | None = None,
        note: str | None = None,
    ) -> AlertDetail:
        """``PATCH /alerts/{id}``: set ``status`` (new, triaged, closed), ``verdict``
        (true_positive, false_positive) and/or ``note``; needs a ``write`` key. Each
        change is appended to the alert's history under the key's name.

        Raises:
            InvalidRequest: nothing to change, or a value the API does not know.
            PermissionDenied: a ``read`` key.
        """
        body = _params(status=status, verdict=verdict, note=note)
        return AlertDetail.from_json(self._request("PATCH", f"/alerts/{int(alert_id)}", json=body))

    def summary(self, alert_id: int) -> Summary:
        """``GET /alerts/{id}/summary``: the cached summary.

        Raises:
            NotFoundError: none generated yet (see :meth:`summarize`).
        """
        return Summary.from_json(self._request("GET", f"/alerts/{int(alert_id)}/summary"))

    def summarize(self, alert_id: int) -> Summary:
        """``POST /alerts/{id}/summary``: generate (or regenerate) the summary now; needs a
        ``write`` key.

        Raises:
            ServiceUnavailable: the summarizer is busy (503) or took too long (504).
        """
        return Summary.from_json(self._request("POST", f"/alerts/{int(alert_id)}/summary"))

    def campaigns(
        self,
        *,
        start: Time | None = None,
        end: Time | None = None,
        severity: str | None = None,
        sort: Literal["-id", "-priority"] = "-id",
        limit: int | None = None,
    ) -> pl.DataFrame:
        """``GET /campaigns``, every page, newest first (``sort="-priority"``: severity,
        then score), as one frame (:data:`~service.client.records.CAMPAIGN_SCHEMA`)."""
        params = _params(start=_seconds(start), end=_seconds(end), severity=severity, sort=sort)
        return campaigns_frame(list(self._pages("/campaigns", params, limit)))

    def campaign(self, campaign_id: int) -> CampaignDetail:
        """``GET /campaigns/{id}``: the hop path in order and the campaign's alerts.

        Raises:
            NotFoundError: no such campaign.
        """
        return CampaignDetail.from_json(self._request("GET", f"/campaigns/{int(campaign_id)}"))

    def send_events(
        self,
        events: Sequence[Mapping[str, Any]] | pl.DataFrame | None = None,
        *,
        xml: Sequence[str] | None = None,
    ) -> EventsAccepted:
        """``POST /events``: canonical auth events (dicts or a frame with the canonical
        columns) and/or raw XmlWinEventLog lines, queued for ingest and scoring; needs a
        ``write`` key. Returns at once with the counts and the ingest job.

        Raises:
            InvalidRequest: a malformed batch (the first bad field is named).
        """
        if isinstance(events, pl.DataFrame):
            events = events.to_dicts()
        body: dict[str, Any] = {"events": list(events or []), "xml": list(xml or [])}
        return EventsAccepted(**self._request("POST", "/events", json=body))
