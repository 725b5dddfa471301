"""| hopwatchalerts [min_score=] [severity=] [status=] [host=] [user=] [since=] [limit=] ...

Generating command: hopwatch alerts, newest first, following the API's cursor
pages (``GET /alerts``); ``alert_id=N`` gives one alert in detail (explanation,
rule hits, evidence: ``GET /alerts/{id}``).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from splunklib.searchcommands import (
    Configuration,
    GeneratingCommand,
    Option,
    dispatch,
    validators,
)

from hopwatch_app.client import NotFoundError
from hopwatch_app.command import Since, Text, client_for, guarded
from hopwatch_app.rows import alert_row, hopwatch_host, hopwatch_user, parse_since


@Configuration(distributed=False)
class HopwatchAlertsCommand(GeneratingCommand):
    """Alerts from hopwatch's REST API as Splunk rows."""

    min_score = Option(require=False, validate=validators.Float(0.0, 1.0))
    severity = Option(require=False, validate=validators.Set("low", "medium", "high", "critical"))
    status = Option(require=False, validate=validators.Set("new", "triaged", "closed"))
    host = Option(require=False, validate=Text())
    src_host = Option(require=False, validate=Text())
    dst_host = Option(require=False, validate=Text())
    user = Option(require=False, validate=Text())
    detector = Option(
        require=False, validate=validators.Match("detector", r"^[a-z][a-z0-9_]{0,49}$")
    )
    campaign = Option(require=False, validate=validators.Integer(1))
    since = Option(require=False, validate=Since())
    sort = Option(
        require=False,
        default="-time",
        validate=validators.Set("-time", "time", "-score", "score", "-id", "id"),
    )
    limit = Option(require=False, default=1000, validate=validators.Integer(1, 100000))
    alert_id = Option(require=False, validate=validators.Integer(1))

    def generate(self):
        return guarded(self, "hopwatchalerts", self._rows)

    def _rows(self):
        client = client_for(self)
        if self.alert_id is not None:
            try:
                yield alert_row(client.alert(self.alert_id))
            except NotFoundError:
                self.write_warning("hopwatchalerts: alert %d does not exist" % self.alert_id)
            return
        params = {
            "min_score": self.min_score,
            "severity": self.severity,
            "status": self.status,
            "host": hopwatch_host(self.host),
            "src_host": hopwatch_host(self.src_host),
            "dst_host": hopwatch_host(self.dst_host),
            "user": hopwatch_user(self.user),
            "detector": self.detector,
            "campaign": self.campaign,
            "start": parse_since(self.since),
            "sort": self.sort,
        }
        for item in client.iter_pages("/alerts", params, self.limit):
            yield alert_row(item)


dispatch(HopwatchAlertsCommand, sys.argv, sys.stdin, sys.stdout, __name__)
