# One image for every mllead service; SERVICE picks which one runs.
#   docker build -t mllead . && docker run -e SERVICE=tech-lead mllead
# Two stages. `build` installs every dependency, compiles the workspace (`pnpm build`: tsc -b into each package's
# and service's dist/) and lays out /out: the package.json files, the compiled dist/ folders and what the services
# read at run time (agents/, jobs/), with the production dependencies of the services only. The runtime stage is
# that folder on a slim Node with the system packages: no TypeScript, no dev dependencies, no sources.

FROM node:22-bookworm-slim AS build
RUN npm install -g pnpm@12.21.0
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build
# /out mirrors the repository's layout: the packages find agents/ and jobs/ relative to their own files.
# The production install reuses the store the first install filled (--offline).
RUN mkdir /out && cp package.json pnpm-workspace.yaml pnpm-lock.yaml .npmrc /out/ \
  && for d in packages/* services/*; do mkdir -p "/out/$d" && cp "$d/package.json" "/out/$d/" && cp -r "$d/dist" "/out/$d/"; done \
  && cp -r agents jobs /out/ && find /out -name '*.tsbuildinfo' -delete \
  && cd /out && pnpm install --prod --frozen-lockfile --offline --filter "{./services/*}..."

FROM node:22-bookworm-slim
# python3 + numpy: the specialists and the GPU runner execute the shipped jobs; matplotlib draws the analyst's plots.
# git: the specialists' task worktrees.
# bubblewrap: every model-driven command and GPU job runs in it (MLLEAD_SANDBOX=bubblewrap below); the container needs
# the security_opt settings of docker-compose.yml for it (README, Security).
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-numpy python3-matplotlib ca-certificates git bubblewrap \
  && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /work/workspaces /work/jobs && chown -R node:node /work
WORKDIR /app
# Owned by root, read-only to the service user: a service cannot change its own code.
COPY --from=build /out /app
# A specialist-agent or gpu-runner that cannot start bubblewrap refuses to start and says why; MLLEAD_SANDBOX=process
# runs commands without isolation (not for a real key on a real repository).
ENV NODE_ENV=production HOST=0.0.0.0 MLLEAD_SANDBOX=bubblewrap
# Commands run as `nobody` inside the sandbox, mapped to this user outside: the worktrees stay node's (uid 1000).
USER node
# --conditions=mllead-dist: every @mllead package resolves to its dist/ (without it, to its TypeScript source).
# --max-semi-space-size=4: an idle service keeps a small young generation (tools/src/services.ts, PROD_NODE_FLAGS).
CMD ["sh", "-c", "exec node --max-semi-space-size=4 --conditions=mllead-dist services/${SERVICE}/dist/main.js"]
