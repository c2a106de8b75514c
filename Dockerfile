# The hub's image: a wheel built from the source, installed (not editable) with the PostgreSQL and MISP
# extras, run as an unprivileged user. tests/test_packaging.py builds and installs the same wheel from the
# same files and runs it, since the project's CI has no Docker engine.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY connectors ./connectors
COPY migrations ./migrations
COPY config ./config
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/*.whl)[postgres,misp]" \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --home-dir /data --create-home --shell /usr/sbin/nologin hub \
 && install -d -o hub -g hub -m 0700 /data/keys
USER hub
# a SQLite file (the default database) and written key files go here, never into the installed package
WORKDIR /data
ENV HUB_HOST=0.0.0.0 HUB_PORT=8000 HUB_LOG_FORMAT=json PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HUB_PORT', '8000'), timeout=4)"
CMD ["hub", "serve"]
