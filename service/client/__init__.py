"""A small typed Python client of the hopwatch REST API (used by the notebooks).

::

    from service.client import HopwatchClient, NotFoundError

    with HopwatchClient("http://127.0.0.1:8000", api_key) as hw:
        hw.health()                                    # {"status": "ok", ...}; no key needed
        alerts = hw.alerts(min_score=0.9, sort="-score")   # every page, one Polars frame
        campaigns = hw.campaigns(severity="critical")      # one Polars frame
        path = hw.campaign(int(campaigns["id"][0])).hops   # the hop path, in order
        alert = hw.alert(int(alerts["id"][0]))             # AlertDetail: explanation, rule hits
        hw.triage(alert.id, status="closed", verdict="true_positive", note="confirmed")
        try:
            text = hw.summary(alert.id).text
        except NotFoundError:
            text = hw.summarize(alert.id).text         # generate it now (write key)

Lists come back as Polars frames with fixed columns (:mod:`~service.client.records`:
``ALERT_SCHEMA``, ``CAMPAIGN_SCHEMA``, ``HOP_SCHEMA`` ...), one object as a typed record
(:class:`AlertDetail`, :class:`CampaignDetail`, :class:`Summary`); times are UTC
datetimes. Cursor paging is followed inside the listing calls. A refused request raises
the :class:`ApiError` subclass for its status (401 :class:`AuthenticationError`, 403
:class:`PermissionDenied`, 404 :class:`NotFoundError`, 400/413/422
:class:`InvalidRequest`, 503/504 :class:`ServiceUnavailable`; no answer
:class:`ApiUnreachable`) with the API's message; all derive from ``HopwatchError``.
The client imports neither FastAPI nor the server's code: it needs only ``httpx`` and
``polars``.
"""

from service.client.client import HopwatchClient
from service.client.errors import (
    ApiError,
    ApiUnreachable,
    AuthenticationError,
    InvalidRequest,
    NotFoundError,
    PermissionDenied,
    ServiceUnavailable,
)
from service.client.records import (
    Alert,
    AlertDetail,
    Campaign,
    CampaignDetail,
    CampaignRef,
    EventsAccepted,
    Summary,
)

__all__ = [
    "Alert",
    "AlertDetail",
    "ApiError",
    "ApiUnreachable",
    "AuthenticationError",
    "Campaign",
    "CampaignDetail",
    "CampaignRef",
    "EventsAccepted",
    "HopwatchClient",
    "InvalidRequest",
    "NotFoundError",
    "PermissionDenied",
    "ServiceUnavailable",
    "Summary",
]
