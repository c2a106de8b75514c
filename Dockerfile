FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY hub ./hub
COPY connectors ./connectors
COPY migrations ./migrations
COPY config ./config
RUN pip install --no-cache-dir ".[postgres,misp]" && useradd --system hub
USER hub
ENV HUB_HOST=0.0.0.0 HUB_PORT=8000
EXPOSE 8000
CMD ["hub", "serve"]
