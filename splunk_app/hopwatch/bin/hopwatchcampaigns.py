"""| hopwatchcampaigns [status=open|closed] [severity=] [since=] [limit=]

Generating command: one row per campaign, newest first, with its ordered hop
path (``GET /campaigns`` pages, then ``GET /campaigns/{id}`` for the hops and
alerts). A campaign is ``open`` while any of its alerts is not closed.
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

from hopwatch_app.command import Since, client_for, guarded
from hopwatch_app.rows import campaign_row, parse_since


@Configuration(distributed=False)
class HopwatchCampaignsCommand(GeneratingCommand):
    """Campaigns from hopwatch's REST API, each with its hop path."""

    status = Option(require=False, validate=validators.Set("open", "closed"))
    severity = Option(require=False, validate=validators.Set("low", "medium", "high", "critical"))
    since = Option(require=False, validate=Since())
    limit = Option(require=False, default=100, validate=validators.Integer(1, 10000))

    def generate(self):
        return guarded(self, "hopwatchcampaigns", self._rows)

    def _rows(self):
        client = client_for(self)
        params = {"severity": self.severity, "start": parse_since(self.since)}
        sent = 0
        # status is derived from each campaign's alerts, so page until `limit` rows match
        for item in client.iter_pages("/campaigns", params, 10**9):
            row = campaign_row(client.campaign(item["id"]))
            if self.status is not None and row["status"] != self.status:
                continue
            yield row
            sent += 1
            if sent >= self.limit:
                return


dispatch(HopwatchCampaignsCommand, sys.argv, sys.stdin, sys.stdout, __name__)
