"""The hopwatch Splunk app's own Python: a REST client of the hopwatch API, the rows
its search commands emit, and the mapping of Splunk events to ``POST /events``.

Only the standard library and the vendored splunklib (``../lib``) are used: the
app talks to hopwatch over HTTP and never imports hopwatch's packages.
"""

APP_VERSION = "0.1.0"

__all__ = ["APP_VERSION"]
