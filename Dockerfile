# syntax=docker/dockerfile:1
# Stepwise in a container: the build stage compiles the TypeScript; the final stage holds the compiled server,
# its production dependencies only and the embedded tiny model, runs as a non-root user, and its HEALTHCHECK
# asks gRPC health.
#
#   docker build -t stepwise .
#   docker run --rm -p 50051:50051 -p 9464:9464 stepwise                       # the embedded tiny model
#   docker run --rm -p 50051:50051 -v "$PWD/t5-small:/models/t5-small:ro" stepwise --model /models/t5-small
#
# Arguments after the image name go to `stepwise serve`; every option also has its STEPWISE_* variable.
# test/integration/deploy/container-install.test.ts runs these steps (COPY, RUN, the entry point and the
# health check) in clean folders, without a container daemon.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
# Installs every dependency; its `prepare` script compiles src/ into dist/. (npm's cache stays out of the image.)
RUN --mount=type=cache,target=/root/.npm npm ci

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts/prepare.mjs ./scripts/prepare.mjs
COPY proto ./proto
COPY deploy/docker/health-check.mjs ./deploy/docker/health-check.mjs
COPY --from=build /app/dist ./dist
# Production dependencies only; `prepare` finds dist/ in place (TypeScript is a dev dependency).
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
# The embedded model, built here once by the function `stepwise serve` calls, so that a container (even on a
# read-only file system) starts without writing it.
RUN node --input-type=module -e "await (await import('./dist/src/embedded-model.js')).ensureEmbeddedModel()"
ENV STEPWISE_HOST=0.0.0.0 STEPWISE_PORT=50051 STEPWISE_METRICS_PORT=9464 STEPWISE_LOG_FORMAT=json
USER node
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "deploy/docker/health-check.mjs"]
ENTRYPOINT ["node", "dist/src/cli.js", "serve"]
