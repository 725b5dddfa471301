"""Campaign routes (:mod:`~service.api.campaigns.routes`) and their schemas
(:mod:`~service.api.campaigns.schemas`)."""

from service.api.campaigns.routes import router

__all__ = ["router"]
