"""Settings, the FastAPI app, workers and the command line."""
