# One image for every role: API (gunicorn), worker, and the one-shot migrate.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md cli.py gunicorn_conf.py ./
COPY timeline timeline
COPY api api
COPY workers workers
RUN pip install --no-cache-dir . && useradd --system timeline && mkdir /data && chown timeline /data
USER timeline
ENV TIMELINE_DATA_DIR=/data
EXPOSE 8000
CMD ["gunicorn", "--config", "python:gunicorn_conf", "--workers", "4", "--bind", "0.0.0.0:8000", "api.asgi:app"]
