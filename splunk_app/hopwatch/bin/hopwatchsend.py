"""... | hopwatchsend [batch_size=1000]

Streaming command: sends the Windows logon events of a search (XmlWinEventLog
records as they are, classic 4624/4625/4634 events from their fields) to
hopwatch's ``POST /events`` (scope write) and returns one row per batch with
what hopwatch accepted, rejected (and why) and the ingest job it queued.
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

from hopwatch_app.command import client_for, guarded
from hopwatch_app.events import to_batch
from hopwatch_app.send import batch_row


@Configuration(distributed=False)
class HopwatchSendCommand(StreamingCommand):
    """Windows logon events of the search to hopwatch, one result row per batch."""

    batch_size = Option(require=False, default=1000, validate=validators.Integer(1, 10000))

    def stream(self, records):
        return guarded(self, "hopwatchsend", lambda: self._rows(records))

    def _rows(self, records):
        client = None
        batch = []
        self._batches = getattr(self, "_batches", 0)
        for record in records:
            batch.append(record)
            if len(batch) >= self.batch_size:
                client = client or client_for(self)
                yield self._send(client, batch)
                batch = []
        if batch:
            client = client or client_for(self)
            yield self._send(client, batch)

    def _send(self, client, records):
        self._batches += 1
        xml, events, skipped = to_batch(records)
        return batch_row(client, self._batches, len(records), xml, events, skipped)


dispatch(HopwatchSendCommand, sys.argv, sys.stdin, sys.stdout, __name__)
