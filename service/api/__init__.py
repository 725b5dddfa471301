"""The REST API: thin routes over ``service.services``, schemas beside the routes."""
