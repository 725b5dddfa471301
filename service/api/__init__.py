"""The REST API: thin routes over ``service.queries``, schemas beside the routes."""
