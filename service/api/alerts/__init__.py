"""Alert routes (:mod:`~service.api.alerts.routes`), their schemas
(:mod:`~service.api.alerts.schemas`) and the direct JSON encoding of alert pages
(:mod:`~service.api.alerts.encode`)."""

from service.api.alerts.routes import router

__all__ = ["router"]
