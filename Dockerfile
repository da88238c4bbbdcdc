# The image the Docker work pool runs (prefect.docker.yaml builds and pushes it).
# Flow code lives at /opt/multistore; the deployments' pull step sets that working directory.
FROM python:3.11-slim

# Debian's chromium: the browser pool drives it through Playwright (no `playwright install`).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/multistore
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY multistore/__init__.py multistore/__init__.py
COPY flows/__init__.py flows/__init__.py
COPY tasks/__init__.py tasks/__init__.py
COPY blocks/__init__.py blocks/__init__.py
COPY sandbox/__init__.py sandbox/__init__.py
RUN pip install --no-cache-dir .

COPY . .
RUN pip install --no-cache-dir --no-deps .

ENV MULTISTORE_CHROMIUM_PATH=/usr/bin/chromium \
    MULTISTORE_HEADLESS=true \
    PYTHONUNBUFFERED=1
