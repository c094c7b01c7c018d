# Nudgebot: one image for every replica. Build: docker build -t nudgebot .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 nudgebot
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY bot/__init__.py bot/py.typed bot/
RUN pip install .  && pip uninstall -y nudgebot

COPY bot/ bot/
COPY migrations/ migrations/
COPY config/ config/
COPY nudges/ nudges/
COPY alembic.ini ./
RUN pip install --no-deps -e . && chown -R nudgebot:nudgebot /app

USER nudgebot
ENV DATABASE_URL=sqlite:////app/data/nudgebot.db \
    NUDGEBOT_PORT=3000 \
    NUDGEBOT_LOG_FORMAT=json
RUN mkdir -p /app/data
VOLUME ["/app/data"]
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('NUDGEBOT_PORT', '3000'), timeout=4).status == 200 else 1)"

ENTRYPOINT ["nudgebot", "run"]
