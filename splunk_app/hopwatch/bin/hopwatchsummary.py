"""... | hopwatchsummary [field=alert_id] [generate=f]

Streaming command: adds hopwatch's grounded summary of the alert named by each
row's ``alert_id`` (``GET /alerts/{id}/summary``; with ``generate=t`` a missing
one is generated with ``POST``, which needs a key of scope write).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from splunklib.searchcommands import (
    Configuration,
    Option,
    StreamingCommand,
    dispatch,
    validators,
)

from hopwatch_app.client import NotFoundError, path_id
from hopwatch_app.command import client_for, guarded
from hopwatch_app.rows import summary_fields


@Configuration(distributed=False)
class HopwatchSummaryCommand(StreamingCommand):
    """The cached (or, with generate=t, new) summary of each row's alert."""

    field = Option(require=False, default="alert_id", validate=validators.Fieldname())
    generate = Option(require=False, default=False, validate=validators.Boolean())

    def stream(self, records):
        return guarded(self, "hopwatchsummary", lambda: self._rows(records))

    def _rows(self, records):
        client = None
        cache = {}
        for record in records:
            alert_id = path_id(record.get(self.field))
            if alert_id is None:
                record.update(summary_fields(None, f"no alert id in field {self.field}"))
                yield record
                continue
            if alert_id not in cache:
                if client is None:
                    client = client_for(self)
                cache[alert_id] = self._summary(client, alert_id)
            record.update(cache[alert_id])
            yield record

    def _summary(self, client, alert_id):
        try:
            return summary_fields(client.summary(alert_id), "cached")
        except NotFoundError as exc:
            if "has no summary" not in str(exc):
                return summary_fields(None, "no such alert")
        if not self.generate:
            return summary_fields(None, "not generated yet (generate=t creates it)")
        return summary_fields(client.summary(alert_id, generate=True), "generated")


dispatch(HopwatchSummaryCommand, sys.argv, sys.stdin, sys.stdout, __name__)
