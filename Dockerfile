# The API image. Same install, same CLI and same settings as the README's run command.

# The web app, built once; only its static files go into the API image.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    IMAGING_AI_DATA_DIR=/data \
    IMAGING_AI_HOST=0.0.0.0 \
    IMAGING_AI_PORT=8000

WORKDIR /app

# Dependencies first, so code changes do not reinstall torch. The package is installed editable, as
# by the run command, so that it finds migrations/, model_store/ and frontend/ beside backend/.
COPY pyproject.toml README.md ./
COPY backend ./backend
RUN pip install -e .

COPY migrations ./migrations
COPY model_store ./model_store
COPY frontend/placeholder ./frontend/placeholder
COPY --from=web /web/dist ./frontend/dist

RUN useradd --system --uid 10001 imaging && mkdir -p /data && chown imaging /data
USER imaging

EXPOSE 8000 11112
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["imaging-ai", "serve", "--migrate"]
