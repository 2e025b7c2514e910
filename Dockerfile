# supportbot: `docker compose up` (docker-compose.yml) builds this image. Two stages: the first builds the package
# (no dev extras), the second is a slim Python with only what runs, as the unprivileged user "supportbot".
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core core
COPY bots bots
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FAQ_PATH=/app/faq_data \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
RUN groupadd --system --gid 10001 supportbot \
    && useradd --system --uid 10001 --gid supportbot --home-dir /app --no-create-home --shell /usr/sbin/nologin supportbot
COPY --from=build /install /usr/local
WORKDIR /app
# the shipped FAQ; docker-compose.yml mounts ./faq_data over it (read-only), so edits need no rebuild
COPY faq_data /app/faq_data
COPY docker/entrypoint.sh /usr/local/bin/supportbot-entrypoint
RUN chmod 0755 /usr/local/bin/supportbot-entrypoint
USER supportbot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/supportbot-entrypoint"]
CMD ["run"]
