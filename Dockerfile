# MediaHub: one image for the web server and the workers (see docs/deployment.md).
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
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-workers"]
