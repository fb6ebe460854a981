# One image for every mllead service; SERVICE picks which one runs.
#   docker build -t mllead . && docker run -e SERVICE=tech-lead mllead
FROM node:22-bookworm-slim
# python3 + numpy: the specialists and the GPU runner execute the shipped jobs; matplotlib draws the analyst's plots.
# git: the specialists' task worktrees.
# bubblewrap: every model-driven command and GPU job runs in it (MLLEAD_SANDBOX=bubblewrap below); the container needs
# the security_opt settings of docker-compose.yml for it (README, Security).
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-numpy python3-matplotlib ca-certificates git bubblewrap \
  && rm -rf /var/lib/apt/lists/* && npm install -g pnpm@12.21.0
RUN mkdir -p /work/workspaces /work/jobs && chown -R node:node /work
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile
# A specialist-agent or gpu-runner that cannot start bubblewrap refuses to start and says why; MLLEAD_SANDBOX=process
# runs commands without isolation (not for a real key on a real repository).
ENV NODE_ENV=production HOST=0.0.0.0 MLLEAD_SANDBOX=bubblewrap
# Commands run as `nobody` inside the sandbox, mapped to this user outside: the worktrees stay node's.
USER node
CMD ["sh", "-c", "exec node --import tsx services/${SERVICE}/src/main.ts"]
