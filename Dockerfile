# syntax=docker/dockerfile:1
# The manager's image: Node.js 24 LTS on distroless (no shell, no package manager), production dependencies only,
# non-root, and nothing written outside /tmp (the chart mounts an emptyDir there and a read-only root file system).
#
#   docker build -t <registry>/kubemacpool-ts:<version> .      (BuildKit, or a recent buildah bud / podman build: COPY --chmod)
#
# Both bases are pinned by digest; refresh them together, e.g. with
#   skopeo inspect --format '{{.Digest}}' docker://node:24-bookworm-slim
ARG BUILDER=node:24-bookworm-slim@sha256:3638d9a6fe4030bd716be989438248074489337ba3275657f93595428be4fc03
ARG RUNTIME=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a

FROM ${BUILDER} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
# Build, then drop the dev dependencies: what is copied below is what `npm ci --omit=dev` installs, which CI starts
# the manager from (test/e2e/production-dependencies.e2e-spec.ts).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && rm -rf dist/*.tsbuildinfo

FROM ${RUNTIME}
WORKDIR /app
ENV NODE_ENV=production \
    # Two malloc arenas instead of one per thread: a few MiB less resident memory, nothing slower measurably.
    MALLOC_ARENA_MAX=2
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --chmod=0755 image/manager /manager
# distroless' nonroot user; the chart runs it as upstream's uid 107, which works as well (nothing is owned).
USER 65532:65532
# 8000: the webhooks, /healthz and /readyz (HTTPS). 8443: the metrics over HTTPS behind Kubernetes authentication.
EXPOSE 8000 8443
# The same Node.js flags as `npm start` (a test compares them). The chart passes upstream's args after these.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=4", "/app/dist/main.js"]
