# Sluice daemon image. Production images leave out chdb (~550 MB, an optional
# dependency) and therefore require SLUICE_CLICKHOUSE_URL and, for anything
# but a demo, SLUICE_KAFKA_BROKERS.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# `npm ci` refuses this lock ("Missing: @chdb/lib-darwin-arm64 from lock file"):
# the registry it was written against has none of chdb's other-platform
# packages, and the image leaves chdb out anyway. `npm install` with the lock
# installs its locked versions; --no-save leaves the lock as it is.
# node-rdkafka compiles its bundled librdkafka here (~100 s on 2 cores).
# test/integration/dockerfile.test.ts replays these RUN lines in a clean copy.
RUN npm install --omit=optional --ignore-scripts --no-audit --no-fund --no-save && npm rebuild node-rdkafka
COPY tsconfig.json ./
COPY config ./config
COPY engine ./engine
COPY workers ./workers
COPY bench ./bench
COPY test ./test
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    SLUICE_ADMIN_HOST=0.0.0.0
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# the web console (GET / on the admin port): static files, no build step
COPY console ./console
USER node
EXPOSE 8000 8001
CMD ["npm", "start"]
