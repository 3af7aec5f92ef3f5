# The kubetune image: the operator (`kubetune operator`, the default) and the metrics sidecar
# in trial pods (`kubetune sidecar`). Build it with `make images`, or by hand:
#   docker build -t kubetune/kubetune:$(python3 -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])') .
# BASE is any Debian-like image with python3 >= 3.11 and its venv module; the default is the
# official slim image. Where no registry is reachable, hack/ builds one with debootstrap.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
WORKDIR /src
ARG PIP_INDEX_URL
# A virtual environment copied whole into the final stage: no compiler, pip cache or sources
# there. PIP_INDEX_URL lets a build behind a mirror reach the package index. The dependencies
# go in first, in a layer keyed by pyproject.toml alone, so that a change to the code or the
# README rebuilds in seconds. Left out: matplotlib and the libraries only it needs (about
# 85 MB), which draw `kubetune run`'s plots, never used in pods. In: MLflow's client (the
# `mlflow` extra, mlflow-skinny), for the operator's `mlflow.trackingUri`. The chart's
# dashboard is this image too (its Plotly is a file in the package). pip stays: the trials of
# `kubetune.tune(..., backend="cluster")` run in this image and install `packages=` with it.
COPY pyproject.toml ./
RUN python3 -m venv /opt/kubetune \
 && python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
deps = p["dependencies"]; \
extras = p["optional-dependencies"]["mlflow"]; \
print("\n".join([d for d in deps if not d.startswith("matplotlib")] + extras))' > /tmp/requirements.txt \
 && /opt/kubetune/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt
COPY README.md ./
COPY operator ./operator
RUN /opt/kubetune/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps . \
 && find /opt/kubetune -name __pycache__ -prune -exec rm -rf {} + \
 && find /opt/kubetune -path '*/tests/*' -name '*.py' -delete

FROM ${BASE}
ARG VERSION
LABEL org.opencontainers.image.title="kubetune" \
      org.opencontainers.image.description="Hyperparameter tuning on Kubernetes: operator and metrics sidecar" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/kubetune/kubetune"
COPY --from=build /opt/kubetune /opt/kubetune
# MALLOC_ARENA_MAX: the operator's threads (collector, study loop, kopf) each got a glibc
# arena; with two, its memory grew 108 KiB per finished trial instead of 200 (make
# bench-operator, one study of 800 and of 2,000 trials).
ENV PATH=/opt/kubetune/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/tmp \
    USER=kubetune
# The chart's securityContext runs it as 65532 with a read-only root filesystem (/tmp is an
# emptyDir); the image says the same, so it is non-root under plain docker too.
USER 65532:65532
ENTRYPOINT ["kubetune"]
CMD ["operator"]
