# berth itself. Build: docker build -t berth .   Run: see docker-compose.yml.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY core core
COPY manifest manifest
COPY github github
COPY store store
COPY jobs jobs
COPY server server
COPY builder builder
COPY releaser releaser
COPY migrations migrations
COPY cli cli
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# git fetches sources; tini reaps the git and pack children berth starts.
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json app.yml ./
COPY templates templates
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["tini", "--"]
CMD ["node", "--max-semi-space-size=2", "dist/server/main.js"]
