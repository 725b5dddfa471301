"""Background work: the job queue (:mod:`~service.workers.queue`), what each job does
(:mod:`~service.workers.tasks`) and the worker processes (:mod:`~service.workers.runner`).
"""

from service.workers.runner import Worker, context_from_settings, run_summarize_worker

__all__ = ["Worker", "context_from_settings", "run_summarize_worker"]
