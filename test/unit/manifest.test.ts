import { describe, expect, it } from "vitest";
import { errorOf } from "../support/manifest-error-of.js";
import { UserError } from "../../core/errors.js";
import { type Manifest, ManifestError, manifestAnnotations, parseManifest } from "../../manifest/manifest.js";

// Verbatim from the architecture document ("berth.yaml — the app manifest").
const EXAMPLE = `
name: shop                         # default: the repository name, DNS-safe
build:
  context: services/shop           # monorepos: the directory to build
  dockerfile: Dockerfile
  strategy: dockerfile             # or buildpacks; default: Dockerfile if present, else buildpacks
  builder: paketobuildpacks/builder-jammy-base   # buildpacks only
  args: { NODE_ENV: production }
  watch: ["services/shop/**", "libs/**"]          # build only when a push touches these
  timeout: 15m
web:                               # the main container, the one the app's hostname routes to
  port: 8080                       # default: the image's EXPOSE
  command: ["gunicorn", "-b", ":8080", "app:app"]
  healthcheck: { path: /health, interval: 1s, timeout: 30s }   # or { command: [...] }
  resources: { memory: 512m, cpus: 1 }
  volumes: ["media:/app/media", "static:/app/static"]
processes:                         # more process types from the same image
  worker: { command: "rq worker --url redis://redis:6379/0", replicas: 2 }
release: ["python", "manage.py", "migrate", "--noinput"]   # once per release, before the switch
services:                          # public images on the app's private network; hostname = key
  db:
    image: postgres:16
    env: { POSTGRES_PASSWORD: "\${secret.DB_PASSWORD}" }
    volumes: ["pgdata:/var/lib/postgresql/data"]
    healthcheck: { command: ["pg_isready", "-U", "postgres"] }
  redis: { image: redis:7 }
  nginx:
    image: nginx:1.27-alpine
    files: { /etc/nginx/nginx.conf: deploy/nginx.conf }    # mounted from the repository
    volumes: ["static:/srv/static:ro"]
volumes: { pgdata: {}, media: {}, static: {} }
env:                               # for web, processes and release
  DATABASE_URL: "postgres://postgres:\${secret.DB_PASSWORD}@db:5432/postgres"
  REDIS_URL: redis://redis:6379/0
secrets: [DB_PASSWORD]             # values set through the API or CLI, encrypted at rest
routes:                            # path routes; default: everything to web
  - { path: /static/*, to: "nginx:80" }
  - { path: /ws/*, to: "web:8080" }
previews:
  env: { DEBUG: "1" }              # overrides for pr-<N> environments
  services: fresh                  # fresh (own services and volumes per PR) | shared
  expire_after: 7d
`;

const DEFAULTS: Manifest = {
  build: { context: ".", dockerfile: "Dockerfile", args: {}, secrets: [], resources: {}, watch: [] },
  web: { resources: {}, volumes: [] },
  processes: {},
  services: {},
  volumes: [],
  env: {},
  secrets: [],
  routes: [],
  previews: { env: {}, services: "fresh" }, // no expire_after: BERTH_PREVIEW_TTL decides
};


describe("parseManifest", () => {
  it("normalizes the example of the architecture document exactly", () => {
    expect(parseManifest(EXAMPLE.slice(1))).toStrictEqual({
      name: "shop",
      build: {
        context: "services/shop",
        dockerfile: "Dockerfile",
        strategy: "dockerfile",
        builder: "paketobuildpacks/builder-jammy-base",
        args: { NODE_ENV: "production" },
        secrets: [],
        resources: {},
        watch: ["services/shop/**", "libs/**"],
        timeoutMs: 900_000,
      },
      web: {
        port: 8080,
        command: ["gunicorn", "-b", ":8080", "app:app"],
        healthcheck: { kind: "http", path: "/health", intervalMs: 1000, timeoutMs: 30_000 },
        resources: { memoryBytes: 536_870_912, cpus: 1 },
        volumes: [
          { volume: "media", path: "/app/media", readOnly: false },
          { volume: "static", path: "/app/static", readOnly: false },
        ],
      },
      processes: {
        worker: { command: ["rq", "worker", "--url", "redis://redis:6379/0"], replicas: 2, resources: {}, volumes: [] },
      },
      release: ["python", "manage.py", "migrate", "--noinput"],
      services: {
        db: {
          image: "postgres:16",
          env: { POSTGRES_PASSWORD: "${secret.DB_PASSWORD}" },
          volumes: [{ volume: "pgdata", path: "/var/lib/postgresql/data", readOnly: false }],
          files: [],
          healthcheck: { kind: "command", command: ["pg_isready", "-U", "postgres"] },
          resources: {},
        },
        redis: { image: "redis:7", env: {}, volumes: [], files: [], resources: {} },
        nginx: {
          image: "nginx:1.27-alpine",
          env: {},
          volumes: [{ volume: "static", path: "/srv/static", readOnly: true }],
          files: [{ path: "/etc/nginx/nginx.conf", source: "deploy/nginx.conf" }],
          resources: {},
        },
      },
      volumes: ["pgdata", "media", "static"],
      env: {
        DATABASE_URL: "postgres://postgres:${secret.DB_PASSWORD}@db:5432/postgres",
        REDIS_URL: "redis://redis:6379/0",
      },
      secrets: ["DB_PASSWORD"],
      routes: [
        { path: "/static/*", target: "nginx", port: 80 },
        { path: "/ws/*", target: "web", port: 8080 },
      ],
      previews: { env: { DEBUG: "1" }, services: "fresh", expireAfterMs: 604_800_000 },
    });
  });

  it.each([
    ["an empty file", ""],
    ["an empty mapping", "{}"],
    ["comments only", "# berth.yaml\n# nothing to change\n"],
    ["an explicit null", "~\n"],
    ["sections set to nothing", "build:\nweb:\nprocesses:\nservices:\nvolumes:\nenv:\nsecrets:\nroutes:\npreviews:\n"],
  ])("gives the defaults for %s", (_, text) => {
    expect(parseManifest(text)).toStrictEqual(DEFAULTS);
  });

  it("splits string commands with quotes and keeps list commands as argv", () => {
    const m = parseManifest(
      [
        `web: { command: "sh -c 'exec gunicorn -b :$PORT app:app'" }`,
        `release: [sleep, 5, true]`,
        `processes:`,
        `  clock: { command: 'python -m "my app.clock" --tz=UTC' }`,
      ].join("\n"),
    );
    expect(m.web.command).toEqual(["sh", "-c", "exec gunicorn -b :$PORT app:app"]);
    expect(m.release).toEqual(["sleep", "5", "true"]);
    expect(m.processes.clock?.command).toEqual(["python", "-m", "my app.clock", "--tz=UTC"]);
  });

  it("turns env numbers and booleans into text, here and in services and previews", () => {
    const m = parseManifest(
      [
        "env: { PORT: 8080, DEBUG: false, RATIO: 0.5, EMPTY: '', 'spring.profile': prod }",
        "services: { db: { image: postgres:16, env: { PGPORT: 5432 } } }",
        "previews: { env: { DEBUG: true } }",
      ].join("\n"),
    );
    expect(m.env).toStrictEqual({ PORT: "8080", DEBUG: "false", RATIO: "0.5", EMPTY: "", "spring.profile": "prod" });
    expect(m.services.db?.env).toStrictEqual({ PGPORT: "5432" });
    expect(m.previews.env).toStrictEqual({ DEBUG: "true" });
  });

  it("keeps a __proto__ env name as an ordinary variable", () => {
    const env = parseManifest("env: { __proto__: x }").env;
    expect(Object.keys(env)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
  });

  it("accepts references to declared secrets and services", () => {
    const m = parseManifest(
      [
        "secrets: [API_KEY]",
        "services: { cache: { image: redis:7 } }",
        "env: { CACHE: 'redis://${service.cache.host}:6379', KEY: '${secret.API_KEY}', LITERAL: '$${HOME}' }",
      ].join("\n"),
    );
    expect(m.env).toStrictEqual({ CACHE: "redis://${service.cache.host}:6379", KEY: "${secret.API_KEY}", LITERAL: "$${HOME}" });
  });

  it("normalizes paths, sizes, CPUs, replicas, modes and timings", () => {
    const m = parseManifest(
      [
        "build:",
        "  context: ./services/shop/",
        "  dockerfile: docker/../Dockerfile.prod",
        "  strategy: buildpacks",
        "  watch: [./libs/**, 'services/shop/**/*.py']",
        "  args: { BUILD_NO: 7 }",
        "  target: runtime-slim",
        "  secrets: [NPM_TOKEN]",
        "  resources: { memory: 2g, cpus: 1.5 }",
        "secrets: [NPM_TOKEN]",
        "volumes: { data: , cache: {} }",
        "web:",
        "  resources: { memory: 268435456, cpus: '0.5' }",
        "  volumes: ['data:/app/data/', 'cache:/tmp/cache:rw']",
        "  healthcheck: { command: curl -fs localhost/up, start_period: 1m, interval: 500ms }",
        "processes:",
        "  worker: { command: [rq, worker], replicas: 0, resources: { memory: 1.5g } }",
        "  mailer: { command: mail-loop, healthcheck: { command: [test, -f, /tmp/ok], timeout: 2s } }",
        "services:",
        "  proxy:",
        "    image: nginx:1.27",
        "    command: nginx -g 'daemon off;'",
        "    files: { /etc/nginx/conf.d/default.conf: ./deploy/./nginx/../default.conf, /srv/www: public }",
        "    volumes: ['data:/srv/data:ro']",
        "routes: [{ path: /, to: 'proxy:80' }, { path: /jobs/*, to: 'mailer:9000' }]",
        "previews: { services: shared, expire_after: 36h }",
      ].join("\n"),
    );
    expect(m).toStrictEqual({
      ...DEFAULTS,
      build: {
        context: "services/shop",
        dockerfile: "Dockerfile.prod",
        strategy: "buildpacks",
        target: "runtime-slim",
        args: { BUILD_NO: "7" },
        secrets: ["NPM_TOKEN"],
        resources: { memoryBytes: 2_147_483_648, cpus: 1.5 },
        watch: ["libs/**", "services/shop/**/*.py"],
      },
      secrets: ["NPM_TOKEN"],
      volumes: ["data", "cache"],
      web: {
        resources: { memoryBytes: 268_435_456, cpus: 0.5 },
        volumes: [
          { volume: "data", path: "/app/data", readOnly: false },
          { volume: "cache", path: "/tmp/cache", readOnly: false },
        ],
        healthcheck: { kind: "command", command: ["curl", "-fs", "localhost/up"], startPeriodMs: 60_000, intervalMs: 500 },
      },
      processes: {
        worker: { command: ["rq", "worker"], replicas: 0, resources: { memoryBytes: 1_610_612_736 }, volumes: [] },
        mailer: { command: ["mail-loop"], replicas: 1, healthcheck: { kind: "command", command: ["test", "-f", "/tmp/ok"], timeoutMs: 2000 }, resources: {}, volumes: [] },
      },
      services: {
        proxy: {
          image: "nginx:1.27",
          command: ["nginx", "-g", "daemon off;"],
          env: {},
          files: [
            { path: "/etc/nginx/conf.d/default.conf", source: "deploy/default.conf" },
            { path: "/srv/www", source: "public" },
          ],
          volumes: [{ volume: "data", path: "/srv/data", readOnly: true }],
          resources: {},
        },
      },
      routes: [
        { path: "/", target: "proxy", port: 80 },
        { path: "/jobs/*", target: "mailer", port: 9000 },
      ],
      previews: { env: {}, services: "shared", expireAfterMs: 129_600_000 },
    });
  });

  it("honours anchors, aliases and << merge keys, explicit keys winning", () => {
    const m = parseManifest(
      [
        "services:",
        "  primary: &db",
        "    image: postgres:16",
        "    env: &dbenv { POSTGRES_DB: app, POSTGRES_USER: app }",
        "  replica:",
        "    <<: *db",
        "    env: { <<: *dbenv, POSTGRES_USER: reader }",
        "  copy: *db",
      ].join("\n"),
    );
    expect(m.services).toStrictEqual({
      primary: { image: "postgres:16", env: { POSTGRES_DB: "app", POSTGRES_USER: "app" }, volumes: [], files: [], resources: {} },
      replica: { image: "postgres:16", env: { POSTGRES_DB: "app", POSTGRES_USER: "reader" }, volumes: [], files: [], resources: {} },
      copy: { image: "postgres:16", env: { POSTGRES_DB: "app", POSTGRES_USER: "app" }, volumes: [], files: [], resources: {} },
    });
  });

  it("merges a list of mappings with the earlier one winning", () => {
    const merged = parseManifest(
      [
        "previews:",
        "  env:",
        "    <<: [{ REGION: eu, TIER: a }, { TIER: b, ZONE: '1' }]",
        "    EXTRA: x",
      ].join("\n"),
    );
    expect(merged.previews.env).toStrictEqual({ REGION: "eu", TIER: "a", ZONE: "1", EXTRA: "x" });
  });
});

describe("ManifestError", () => {
  const text = [
    "name: shop", // 1
    "services:", // 2
    "  db:", // 3
    "    image: postgres:16", // 4
    "    volumes:", // 5
    "      - pgdata", // 6
    "      - data:/var/lib/postgresql/data", // 7
    "web:", // 8
    "  port: 0", // 9
  ].join("\n");

  it("lists every issue with its key path and line, one per line, in file order", () => {
    expect(errorOf(text)).toBe(
      [
        'services.db.volumes[0] (line 6): expected "name:/path" or "name:/path:ro"; got "pgdata"',
        'services.db.volumes[1] (line 7): volume "data" is not declared; add it to the top-level volumes, e.g. volumes: { data: {} }',
        "web.port (line 9): expected a whole number from 1 to 65535; got 0",
      ].join("\n"),
    );
  });

  it("is a UserError carrying the issues, which become check-run annotations", () => {
    let caught: unknown;
    try {
      parseManifest(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ManifestError);
    expect(caught).toBeInstanceOf(UserError);
    const issues = (caught as ManifestError).issues;
    expect(issues[2]).toEqual({ path: "web.port", line: 9, message: "expected a whole number from 1 to 65535; got 0" });
    expect(manifestAnnotations(issues, "services/shop/berth.yaml")[2]).toEqual({
      path: "services/shop/berth.yaml",
      start_line: 9,
      end_line: 9,
      annotation_level: "failure",
      title: "web.port",
      message: "expected a whole number from 1 to 65535; got 0",
    });
    expect(manifestAnnotations([{ path: "", line: 3, message: "Map keys must be unique" }])).toEqual([
      { path: "berth.yaml", start_line: 3, end_line: 3, annotation_level: "failure", title: "berth.yaml", message: "Map keys must be unique" },
    ]);
  });
});
