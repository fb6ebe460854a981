# One image for every mllead service; SERVICE picks which one runs.
#   docker build -t mllead . && docker run -e SERVICE=tech-lead mllead
FROM node:22-bookworm-slim
# python3 + numpy: the specialists and the GPU runner execute the shipped jobs.
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-numpy ca-certificates \
  && rm -rf /var/lib/apt/lists/* && npm install -g pnpm@12.21.0
RUN mkdir -p /work/workspaces /work/jobs && chown -R node:node /work
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile
ENV NODE_ENV=production HOST=0.0.0.0
USER node
CMD ["sh", "-c", "exec node --import tsx services/${SERVICE}/src/main.ts"]
