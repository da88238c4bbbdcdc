# The image the Docker work pool runs: the code on top of the dependencies image
# (Dockerfile.deps). Build both with scripts/build_image.py:
#
#   python scripts/build_image.py                 # FROM python:3.11-slim (the default)
#   python scripts/build_image.py --local-base    # FROM a Debian bookworm made by debootstrap
#
# Flow code lives at /opt/multistore (the deployments' pull step sets that working directory).
# Blocks, settings and credentials come from the job variables at run time, never from here.
ARG DEPS=multistore-deps
FROM ${DEPS}
WORKDIR /opt/multistore
# The code, importable from the working directory (no install: nothing to build in here).
COPY . .
# Which code this is: run reports read REVISION (the commit); the pre-flight compares VERSION
# with the version the deployment was built for (scripts/preflight.py).
ARG REVISION=
ARG VERSION=
RUN printf '%s\n' "$REVISION" > REVISION && printf '%s\n' "$VERSION" > VERSION
LABEL org.multistore.version=$VERSION org.multistore.revision=$REVISION
ENV PYTHONPATH=/opt/multistore
