# One image for the four services; the command picks which one runs (see deploy/).
# Build: docker build -t council-contact .

FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never PIP_NO_CACHE_DIR=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY cli/ cli/
# The root project's dependencies: the four services and contactctl. Not --all-packages, which
# would add every workspace member, libs/devtools (pytest, the bundled broker) among them;
# tests/deploy/test_image_dependencies.py reads what these flags install from uv.lock.
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /app app
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
# Alembic histories are read from the source tree by `contactctl migrate services/<name>`.
COPY --chown=app services/ /app/services/
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001
EXPOSE 8001 8002 8003 8004
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8001') + '/healthz', timeout=2)"]
CMD ["uvicorn", "enquiry_api.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8001", "--timeout-graceful-shutdown", "8"]
