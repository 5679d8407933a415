# OACP in a container: the gateway or the MCP bridge, installed the way `npm install -g` installs it.
# Not built in this project's CI (no Docker engine there); see docs/install.md.
#
#   docker build -t oacp .
#   docker run --rm oacp demo
#   docker run --rm -p 8080:8080 -v oacp-home:/home/oacp/.oacp oacp gateway --listen 0.0.0.0:8080 --insecure
#
# The hardened tier needs bubblewrap and user namespaces: run with --security-opt seccomp=unconfined
# (or a profile allowing clone/unshare) or use --tier light inside an already isolated container.

FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY . .
RUN npm run build && npm pack --ignore-scripts --pack-destination /dist

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap ca-certificates \
    python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist/oacp-*.tgz /tmp/
RUN npm install -g --allow-scripts=better-sqlite3 /tmp/oacp-*.tgz && rm /tmp/oacp-*.tgz \
    && apt-get purge -y make g++ && apt-get autoremove -y
RUN useradd --create-home oacp
USER oacp
WORKDIR /home/oacp
RUN oacp init
ENTRYPOINT ["oacp"]
CMD ["--help"]
