"""Service functions: ``get`` / ``list`` / ``create`` / ``update`` with keyword-only
arguments (``*, session, ...``). They never commit: the caller owns the transaction.
Routes and workers call these; they hold no HTTP code."""
