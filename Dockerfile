# MediaHub: one image for the web server and the workers (see docs/deployment.md; compose.yaml runs both).
#   web:     docker run … mediahub                            uvicorn (HTTP + WebSocket) on 0.0.0.0:8000
#   workers: docker run … mediahub python manage.py qcluster  the django-q2 cluster that runs the jobs
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian's FFmpeg (ffmpeg + ffprobe) and the default font of text overlays.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN pip install .

# The app runs from /app (templates/ and static/ live beside the code), for every entry point.
ENV PYTHONPATH=/app \
    MEDIAHUB_ENV=production \
    MEDIAHUB_DATA_DIR=/app/var \
    STATIC_ROOT=/app/static-collected

# Static files are collected into the image, outside the data dir a volume may cover (served by whitenoise); the key only lets settings load here.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin mediahub \
    && mkdir -p /app/var/media /app/var/work \
    && chown -R mediahub:mediahub /app/var
USER mediahub

EXPOSE 8000
# Liveness: the web process answers (it checks nothing behind it; load balancers use /api/v1/health/ready). The
# Host header is the first of ALLOWED_HOSTS, which production checks. A worker container serves no HTTP: its
# orchestrator disables this check (compose.yaml does) and watches /api/v1/health/workers instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", "import os, urllib.request as r; host = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.*') or '127.0.0.1'; r.urlopen(r.Request('http://127.0.0.1:8000/api/v1/health/live', headers={'Host': host}), timeout=4)"]
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-workers"]
