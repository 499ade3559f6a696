# syntax=docker/dockerfile:1
# The single waymesh image: one image runs any component, chosen by its first argument
# (`waymesh run <controller|node-agent|waypoint> [flags…]`), e.g. container args
# `[waypoint, --controller, waymesh-controller.waymesh-system.svc:15012]`.
#
#   docker build -t waymesh/waymesh:0.1.0 .
#   docker build --target echo -t waymesh/echo:0.1.0 .      # sample backend (apps/echo)
#   docker build --target client -t waymesh/client:0.1.0 .  # sample client (apps/client)
#
# The image runs the compiled JavaScript (`npm run build` → dist/, with the .proto files and the
# addon copied next to it): no TypeScript loader in production, which keeps each component's
# memory and start-up lower than running the sources through tsx. The only native piece is the
# node agent's N-API addon, built by the package's own `install` script (node-gyp, a dev
# dependency) in the build stage.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: install every dependency and build the native addon, then drop dev dependencies.
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies and the addon first, so source edits do not rebuild them.
COPY package.json package-lock.json ./
COPY scripts/build-native.mjs scripts/build-native.mjs
COPY node-agent/native/binding.gyp node-agent/native/binding.gyp
COPY node-agent/native/src node-agent/native/src
RUN npm ci --no-audit --no-fund \
 && test -f node-agent/native/build/Release/waymesh_native.node
COPY bin bin
COPY common common
COPY certs certs
COPY controller controller
COPY node-agent node-agent
COPY waypoint waypoint
COPY lab lab
COPY apps apps
COPY cli cli
COPY manifests manifests
COPY scripts/copy-assets.mjs scripts/copy-assets.mjs
COPY tsconfig.json tsconfig.build.json ./
# Compile, then drop dev dependencies (--ignore-scripts: the addon is built; pruning must not try
# to rebuild it without node-gyp).
RUN npx tsc -p tsconfig.build.json && node scripts/copy-assets.mjs \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node-agent/native/build/Release/obj.target node-agent/native/build/Release/.deps

# --- runtime: the tools the node agent drives (iptables, ip, nsenter) and nothing to build with.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app

# --- sample images (manifests/samples): the lab's waymesh/echo and waymesh/client.
FROM runtime AS echo
USER node
ENTRYPOINT ["node", "/app/dist/apps/echo/main.js"]

FROM runtime AS client
USER node
# Without arguments the client idles, so `kubectl exec` can run requests from inside the mesh.
ENTRYPOINT ["/bin/sh", "-c", "if [ $# -eq 0 ]; then exec sleep infinity; fi; exec node /app/dist/apps/client/main.js \"$@\"", "client"]

# --- the default target: the waymesh image.
FROM runtime AS waymesh
LABEL org.opencontainers.image.title="waymesh" \
      org.opencontainers.image.description="GAMMA-first, sidecar-less service mesh: controller, node agent and waypoint" \
      org.opencontainers.image.licenses="Apache-2.0"
EXPOSE 15000 15001 15006 15008 15012 15020 15021
# `run-entry.js` takes `[component, ...flags]`, as `waymesh run` does.
ENTRYPOINT ["node", "/app/dist/cli/run-entry.js"]
