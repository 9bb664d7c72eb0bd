# syntax=docker/dockerfile:1
# onnx-serve container image: a build stage compiles TypeScript, and the runtime stage holds only
# production dependencies, dist/src and the shipped models, and runs as the non-root `node` user.
#
#   docker build -t onnx-serve .
#   docker run --rm -p 8080:8080 onnx-serve
# To serve your own model repository, mount it read-only and point the server at it:
#   docker run --rm -p 8080:8080 -v "$PWD/my-models:/models:ro" -e ONNX_SERVE_MODELS=/models onnx-serve
# Checked without a Docker engine by test/unit/dockerfile.test.ts (the rules) and
# test/integration/deploy-production-install.test.ts (the stages' steps, run for real).

# ---- build: dev dependencies + tsc ----
FROM node:22-bookworm-slim AS build
WORKDIR /app
# Dependencies first so that their layer is reused until the lockfile changes.
# --ignore-scripts: `prepare` would run tsc before the sources are here; the build runs it below.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# tsconfig also includes tools/, test/, bench/ and load/; .dockerignore keeps them out of the context,
# so tsc compiles src/ only, which is all the runtime needs.
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p .

# ---- runtime ----
FROM node:22-bookworm-slim
# tini is PID 1: it forwards SIGTERM to node, so the graceful drain runs (readiness 503, in-flight
# requests finish, exit 0), and it reaps zombies. `docker run --init` would do the same.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# HOST=0.0.0.0: the server's default (127.0.0.1) is unreachable from outside the container.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 ONNX_SERVE_MODELS=/app/models
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` runs tsc, a dev dependency. The tree's only install scripts are
# onnxruntime-node's postinstall (it downloads CUDA binaries only; .npmrc skips it, and the CPU
# binaries ship inside the package) and protobufjs's (it makes cli/node_modules, which the tarball
# already has, and may print a version notice). Neither is needed to serve.
# onnxruntime-node ships binaries for every OS and CPU (~290 MB); keeping only linux/<this arch>
# saves ~220 MB, and it must happen in this RUN for the layer to shrink.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 ! -name "$(node -p process.arch)" -exec rm -rf {} + \
 && npm cache clean --force
# Models change less often than code: their layer comes first.
COPY models ./models
COPY --from=build /app/dist/src ./dist/src
# The gRPC service's definition, read at start-up when ONNX_SERVE_GRPC_PORT is set (and by clients).
COPY proto ./proto
# Everything above is owned by root and not writable by `node`: the server writes no files.
# The image's `node` user, by number: Kubernetes' runAsNonRoot can only verify a numeric USER.
USER 1000:1000
EXPOSE 8080
# gRPC (KServe v2) is off by default: -e ONNX_SERVE_GRPC_PORT=8081 -p 8081:8081 serves it.
# Slim images have no curl; node's fetch does it. Exec form (no shell) still sees the container's
# environment, so the check follows PORT when it is overridden. It assumes a loopback-reachable
# HOST (0.0.0.0, the default here).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/v2/health/ready', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The drain may take up to ONNX_SERVE_DRAIN_TIMEOUT_MS (30 s); `docker stop` kills after 10 s unless
# given more (`docker stop -t 40`; Kubernetes: terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/cli.js", "serve"]
