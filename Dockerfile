FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY bots bots
COPY faq_data faq_data
RUN pip install --no-cache-dir -e .
ENV FAQ_PATH=/app/faq_data
EXPOSE 8080
CMD ["supportbot", "run"]
