import { describe, expect, it } from "vitest";
import { errorOf } from "../support/manifest-error-of.js";


const lines = (...l: string[]): string => l.join("\n") + "\n";

// A corpus of broken files: [what is wrong, berth.yaml, the exact message].
const CORPUS: [string, string, string][] = [
  // YAML itself
  ["a tab as indentation", lines("web:", "\tport: 80"), "line 2: Tabs are not allowed as indentation"],
  ["a duplicate key", lines("name: a", "name: b"), "line 2: Map keys must be unique"],
  ["an unclosed flow list", lines("secrets: [A, B", "name: x"), "line 2: Flow sequence in block collection must be sufficiently indented and end with a ]"],
  ["two documents", lines("name: a", "---", "name: b"), "line 2: expected one YAML document; remove the second ---"],
  ["an alias without anchor", lines("web: *base"), "web (line 1): alias *base has no anchor &base before it"],
  ["an alias inside its own anchor", lines("secrets: &s [A, *s]"), "secrets[1] (line 1): alias *s points into its own anchor"],
  ["a merge of a scalar", lines("web:", "  <<: 8080"), "web (line 2): << merges mappings: write <<: *name or <<: [*a, *b] where the anchors are mappings"],
  ["a mapping as a key", lines("env:", "  ? { A: 1 }", "  : x"), "env (line 2): keys must be plain words, not mappings or lists"],
  [
    "the whole file as a list",
    lines("- web"),
    "line 1: expected a mapping with keys name, build, web, processes, release, services, volumes, env, secrets, routes, previews, sleep_after, placement, domains, access; got a list",
  ],
  // unknown keys
  [
    "a misspelt top-level key",
    lines("service:", "  db: { image: postgres:16 }"),
    'service (line 1): unknown key "service" (did you mean "services"?); allowed keys: name, build, web, processes, release, services, volumes, env, secrets, routes, previews, sleep_after, placement, domains, access',
  ],
  [
    "a docker-compose key",
    lines("web:", "  ports: [8080]"),
    'web.ports (line 2): unknown key "ports" (did you mean "port"?); allowed keys: port, command, healthcheck, resources, volumes',
  ],
  [
    "an unknown service key",
    lines("services:", "  db:", "    image: postgres:16", "    restart: always"),
    'services.db.restart (line 4): unknown key "restart"; allowed keys: image, command, env, volumes, files, healthcheck, resources',
  ],
  ["settings on a volume", lines("volumes:", "  data: { driver: local }"), 'volumes.data.driver (line 2): unknown key "driver"; volumes take no settings yet (write data: {})'],
  // name and build
  ["an upper-case name", lines("name: Shop"), 'name (line 1): expected a DNS-safe name: lower-case letters, digits and "-", at most 40, not first or last; got "Shop"'],
  ["a name ending in -", lines("name: shop-"), 'name (line 1): expected a DNS-safe name: lower-case letters, digits and "-", at most 40, not first or last; got "shop-"'],
  ["a 41-character name", lines(`name: ${"a".repeat(41)}`), `name (line 1): expected a DNS-safe name: lower-case letters, digits and "-", at most 40, not first or last; got "${"a".repeat(41)}"`],
  ["a name that is a preview hostname", lines("name: shop-pr-3"), 'name (line 1): "shop-pr-3" ends like a preview\'s hostname (<app>-pr-<N>); choose a name that does not end in -pr-<number>'],
  ["a name with a part that reads like an environment", lines("name: shop-production-eu"), 'name (line 1): "shop-production-eu" has the part "production", which reads like an environment (production or pr-<number>); choose a name without it'],
  ["a name with a pull request part inside", lines("name: a-pr-2-b"), 'name (line 1): "a-pr-2-b" has the part "pr-2", which reads like an environment (production or pr-<number>); choose a name without it'],
  ["an unknown strategy", lines("build: { strategy: nixpacks }"), 'build.strategy (line 1): expected dockerfile or buildpacks; got "nixpacks"'],
  ["a context outside the repository", lines("build:", "  context: services/../../other"), 'build.context (line 2): "services/../../other" leaves the repository'],
  ["an absolute context", lines("build: { context: /srv/app }"), 'build.context (line 1): expected a path relative to the repository, such as services/shop; got "/srv/app"'],
  ["a Dockerfile outside the context", lines("build: { dockerfile: ../Dockerfile }"), 'build.dockerfile (line 1): "../Dockerfile" leaves the build context'],
  ["watch as one string", lines("build: { watch: 'libs/**' }"), 'build.watch (line 1): expected a list of globs, such as ["services/shop/**", "libs/**"]; got "libs/**"'],
  [
    "an absolute watch glob",
    lines("build:", "  watch:", "    - /libs/**"),
    'build.watch[0] (line 3): expected a glob relative to the repository root (GitHub lists changed files that way); got "/libs/**"',
  ],
  ["a watch glob leaving the repository", lines("build: { watch: ['../x/**'] }"), 'build.watch[0] (line 1): "../x/**" leaves the repository'],
  ["a target that is no stage name", lines("build: { target: 'my stage' }"), 'build.target (line 1): expected the name of a stage of the Dockerfile (FROM image AS name); got "my stage"'],
  ["an undeclared build secret", lines("secrets: [DB_PASSWORD]", "build:", "  secrets: [NPM_TOKEN]"), 'build.secrets[0] (line 3): "NPM_TOKEN" is not listed in secrets: add it there too, then set its value with berth secrets set'],
  ["a lower-case build secret", lines("build: { secrets: [npm_token] }"), 'build.secrets[0] (line 1): expected a secret name of A-Z, 0-9 and "_", not starting with a digit, such as DB_PASSWORD; got "npm_token"'],
  ["a build memory without unit", lines("build: { resources: { memory: lots } }"), 'build.resources.memory (line 1): expected a size such as 512m, 1g, 256k or a number of bytes; got "lots"'],
  ["a timeout without unit", lines("build: { timeout: 900 }"), "build.timeout (line 1): expected a duration such as 500ms, 2s, 5m, 1h or 7d (a unit is required); got 900"],
  ["a zero timeout", lines("build: { timeout: 0s }"), 'build.timeout (line 1): expected a duration longer than 0; got "0s"'],
  [
    "a secret in a build arg",
    lines("secrets: [NPM_TOKEN]", "build:", "  args: { NPM_TOKEN: '${secret.NPM_TOKEN}' }"),
    "build.args.NPM_TOKEN (line 3): build args are baked into the image, so they cannot use ${secret...} or ${service...}; pass these at run time through env",
  ],
  // web
  ["port 0", lines("web: { port: 0 }"), "web.port (line 1): expected a whole number from 1 to 65535; got 0"],
  ["port 70000", lines("web: { port: 70000 }"), "web.port (line 1): expected a whole number from 1 to 65535; got 70000"],
  ["a quoted port", lines("web: { port: '8080' }"), 'web.port (line 1): expected a whole number from 1 to 65535; got "8080"'],
  ["web as a port", lines("web: 8080"), "web (line 1): expected a mapping with keys port, command, healthcheck, resources, volumes; got 8080"],
  ["an empty command", lines("web: { command: '' }"), "web.command (line 1): expected a command; got an empty string"],
  ["an empty command list", lines("release: []"), "release (line 1): expected a command; got an empty list"],
  ["an unclosed quote", lines(`web: { command: "sh -c 'echo hi" }`), "web.command (line 1): cannot split the command into words: the ' opened at character 7 is never closed"],
  ["a mapping in argv", lines("web:", "  command:", "    - gunicorn", "    - { bind: 8080 }"), "web.command[1] (line 4): expected a word (text); got a mapping"],
  [
    "a health check with path and command",
    lines("web:", "  healthcheck: { path: /up, command: [test, -f, /ok] }"),
    "web.healthcheck (line 2): set either path (an HTTP check) or command, not both",
  ],
  ["a health check with neither", lines("web:", "  healthcheck: { interval: 1s }"), "web.healthcheck (line 2): expected path (an HTTP check, such as /health) or command"],
  ["a health path without /", lines("web:", "  healthcheck: { path: health }"), 'web.healthcheck.path (line 2): expected a path starting with /, such as /health; got "health"'],
  ["a zero interval", lines("web:", "  healthcheck: { path: /up, interval: 0ms }"), 'web.healthcheck.interval (line 2): expected a duration longer than 0; got "0ms"'],
  [
    "a misspelt health key",
    lines("web:", "  healthcheck:", "    path: /up", "    retries: 3"),
    'web.healthcheck.retries (line 4): unknown key "retries"; allowed keys: path, command, interval, timeout, start_period',
  ],
  ["an unknown memory unit", lines("web: { resources: { memory: 512x } }"), 'web.resources.memory (line 1): expected a size such as 512m, 1g, 256k or a number of bytes; got "512x"'],
  ["too little memory", lines("web: { resources: { memory: 4m } }"), `web.resources.memory (line 1): expected at least 6m, Docker's smallest memory limit; got "4m"`],
  ["zero CPUs", lines("web: { resources: { cpus: 0 } }"), "web.resources.cpus (line 1): expected a number of CPUs from 0.01 to 256, such as 0.5 or 2; got 0"],
  // volumes
  ["a volume without path", lines("volumes: { data: {} }", "web: { volumes: [data] }"), 'web.volumes[0] (line 2): expected "name:/path" or "name:/path:ro"; got "data"'],
  [
    "a bind mount",
    lines("web:", "  volumes: ['./data:/data']"),
    'web.volumes[0] (line 2): "./data" is a host path; berth mounts named volumes only: declare one under the top-level volumes, or mount a repository file with files',
  ],
  [
    "an undeclared volume",
    lines("web:", "  volumes:", "    - media:/app/media"),
    'web.volumes[0] (line 3): volume "media" is not declared; add it to the top-level volumes, e.g. volumes: { media: {} }',
  ],
  ["a relative mount path", lines("volumes: { data: }", "web: { volumes: ['data:app/data'] }"), 'web.volumes[0] (line 2): expected an absolute path in the container after "data:"; got "app/data"'],
  ["mounting over /", lines("volumes: { data: }", "web: { volumes: ['data:/'] }"), 'web.volumes[0] (line 2): expected an absolute path in the container after "data:"; got "/"'],
  ["an unknown mount mode", lines("volumes: { data: }", "web: { volumes: ['data:/data:z'] }"), 'web.volumes[0] (line 2): expected :ro or :rw after the path; got ":z"'],
  [
    "one path mounted twice",
    lines("volumes: { a: , b: }", "web:", "  volumes:", "    - a:/data", "    - b:/data/"),
    'web.volumes[1] (line 5): "/data" is already mounted by an earlier entry',
  ],
  ["a volume declared with a driver name", lines("volumes: { data: local }"), 'volumes.data (line 1): expected {} (volumes take no settings yet); got "local"'],
  ["volumes as a list", lines("volumes: [data]"), "volumes (line 1): expected a mapping of volume names, such as { pgdata: {} }; got a list"],
  [
    "a bad volume name",
    lines("volumes:", "  _data: {}"),
    'volumes._data (line 2): "_data" cannot be a volume name: use letters, digits, "_", "." and "-", starting with a letter or digit',
  ],
  // services and processes
  [
    "a service name with upper case",
    lines("services:", "  Main_DB: { image: postgres:16 }"),
    'services.Main_DB (line 2): "Main_DB" cannot be a service name: use lower-case letters, digits and "-" (at most 63, not first or last)',
  ],
  ["a service called web", lines("services:", "  web: { image: nginx }"), `services.web (line 2): "web" is the main container's name; call this service something else`],
  ["a service without image", lines("services:", "  db:", "    env: { A: b }"), "services.db.image (line 2): required: the public image to run, such as postgres:16"],
  ["a service running an app's build", lines("services:", "  db: { image: docker.io/berth/payments:0123456 }"), "services.db.image (line 2): docker.io/berth/payments:0123456 is an app's build (berth/payments); services run public images"],
  ["a service running a bare image id", lines("services:", "  db: { image: 0123456789ab }"), "services.db.image (line 2): 0123456789ab is an image id, which could name any image on the builder, including other apps'"],
  ["a service set to nothing", lines("services:", "  redis:"), "services.redis.image (line 2): required: the public image to run, such as postgres:16"],
  ["an image with a space", lines("services:", "  db: { image: 'postgres 16' }"), 'services.db.image (line 2): expected an image reference such as postgres:16; got "postgres 16"'],
  [
    "a service named like a process",
    lines("processes:", "  worker: { command: work }", "services:", "  worker: { image: busybox }"),
    'services.worker (line 4): a process is also named "worker"; processes and services need different names, as routes use them',
  ],
  [
    "an HTTP check on a service",
    lines("services:", "  api:", "    image: api:1", "    healthcheck: { path: /health }"),
    "services.api.healthcheck.path (line 4): HTTP checks (path) are for web; check this container with command: [...]",
  ],
  ["a service check with neither", lines("services:", "  db:", "    image: postgres:16", "    healthcheck: {}"), "services.db.healthcheck (line 4): expected command, such as [pg_isready, -U, postgres]"],
  [
    "a relative container path in files",
    lines("services:", "  nginx:", "    image: nginx", "    files:", "      etc/nginx/nginx.conf: deploy/nginx.conf"),
    'services.nginx.files["etc/nginx/nginx.conf"] (line 5): expected an absolute path in the container as the key; got "etc/nginx/nginx.conf"',
  ],
  [
    "a file outside the repository",
    lines("services:", "  nginx:", "    image: nginx", "    files: { /etc/passwd: ../../etc/passwd }"),
    'services.nginx.files["/etc/passwd"] (line 4): "../../etc/passwd" leaves the repository',
  ],
  [
    "an absolute repository file",
    lines("services:", "  nginx:", "    image: nginx", "    files: { /etc/passwd: /etc/passwd }"),
    'services.nginx.files["/etc/passwd"] (line 4): expected a path relative to the repository, such as deploy/nginx.conf; got "/etc/passwd"',
  ],
  [
    "a file where a volume is mounted",
    lines("volumes: { conf: }", "services:", "  nginx:", "    image: nginx", "    volumes: ['conf:/etc/nginx']", "    files: { /etc/nginx: deploy/nginx }"),
    'services.nginx.files["/etc/nginx"] (line 6): "/etc/nginx" is also where a volume is mounted',
  ],
  ["a process without command", lines("processes:", "  worker: { replicas: 2 }"), 'processes.worker.command (line 2): required: the command this process runs, such as "rq worker"'],
  ["negative replicas", lines("processes:", "  worker: { command: work, replicas: -1 }"), "processes.worker.replicas (line 2): expected a whole number from 0 to 32; got -1"],
  ["fractional replicas", lines("processes:", "  worker: { command: work, replicas: 1.5 }"), "processes.worker.replicas (line 2): expected a whole number from 0 to 32; got 1.5"],
  ["a process called web", lines("processes:", "  web: { command: serve }"), `processes.web (line 2): "web" is the main container's name; call this process something else`],
  [
    "a process written as a bare command",
    lines("processes:", "  worker: rq worker"),
    'processes.worker (line 2): expected a mapping with keys command, replicas, healthcheck, resources, volumes; got "rq worker"',
  ],
  ["a service written as an image", lines("services:", "  redis: redis:7"), 'services.redis (line 2): expected a mapping with keys image, command, env, volumes, files, healthcheck, resources; got "redis:7"'],
  ["processes as a list", lines("processes: [worker]"), "processes (line 1): expected a mapping of names to settings, such as { worker: { command: rq worker } }; got a list"],
  // env, secrets and references
  ["an env value set to nothing", lines("env:", "  API_URL:"), 'env.API_URL (line 2): expected text, a number or true/false; got nothing (write "" for an empty value)'],
  ["an env value that is a list", lines("env: { HOSTS: [a, b] }"), 'env.HOSTS (line 1): expected text, a number or true/false; got a list (write "" for an empty value)'],
  ["an env name with =", lines("env: { 'A=B': c }"), 'env["A=B"] (line 1): expected a variable name without "=" or spaces; got "A=B"'],
  ["a BERTH_ env name", lines("env:", "  BERTH_URL: x"), "env.BERTH_URL (line 2): names starting with BERTH_ are set by berth itself (BERTH_APP, BERTH_URL, ...); choose another name"],
  [
    "an undeclared secret",
    lines("secrets: [DB_PASSWORD]", "env:", "  DATABASE_URL: 'postgres://u:${secret.DB_PASS}@db/x'"),
    "env.DATABASE_URL (line 3): ${secret.DB_PASS} names no declared secret; add DB_PASS to secrets (declared: DB_PASSWORD)",
  ],
  [
    "a secret with no secrets declared",
    lines("services:", "  db:", "    image: postgres:16", "    env: { POSTGRES_PASSWORD: '${secret.PW}' }"),
    "services.db.env.POSTGRES_PASSWORD (line 4): ${secret.PW} names no declared secret; add PW to secrets (no secrets are declared)",
  ],
  [
    "an undeclared service",
    lines("services: { db: { image: postgres:16 } }", "previews:", "  env: { CACHE: '${service.cache.host}:6379' }"),
    "previews.env.CACHE (line 3): ${service.cache.host} names no service (declared: db)",
  ],
  [
    "an unknown reference",
    lines("env: { HOME_DIR: '${HOME}' }"),
    "env.HOME_DIR (line 1): ${HOME} is not a reference berth knows; use ${secret.NAME} or ${service.NAME.host}, or write $${HOME} to keep the text as it is",
  ],
  ["an unclosed reference", lines("env: { A: '${secret.A' }"), 'env.A (line 1): "${" is never closed with "}"; write "$${" for a literal "${"'],
  [
    "a lower-case secret",
    lines("secrets:", "  - db_password"),
    'secrets[0] (line 2): expected a secret name of A-Z, 0-9 and "_", not starting with a digit, such as DB_PASSWORD; got "db_password"',
  ],
  ["a secret listed twice", lines("secrets: [A, B, A]"), 'secrets[2] (line 1): "A" is listed twice'],
  ["secrets as a mapping", lines("secrets: { A: 1 }"), "secrets (line 1): expected a list of names, such as [DB_PASSWORD]; got a mapping"],
  // routes and previews
  ["a route path without /", lines("routes:", "  - { path: static/*, to: 'web:80' }"), 'routes[0].path (line 2): expected a path starting with /, such as /static/*; got "static/*"'],
  ["a route without port", lines("routes:", "  - { path: /api/*, to: web }"), 'routes[0].to (line 2): expected "name:port", such as "web:8080"; got "web"'],
  [
    "a route to nothing declared",
    lines("services: { nginx: { image: nginx } }", "routes:", "  - path: /static/*", "    to: ngnix:80"),
    'routes[0].to (line 4): "ngnix" is not web, a process or a service (declared: web, nginx)',
  ],
  ["a route to port 0", lines("routes: [{ path: /x, to: 'web:0' }]"), 'routes[0].to (line 1): expected a port from 1 to 65535 after "web:"; got 0'],
  [
    "a path routed twice",
    lines("routes:", "  - { path: /ws/*, to: 'web:8080' }", "  - { path: /ws/*, to: 'web:9090' }"),
    'routes[1].path (line 3): "/ws/*" is already routed by an earlier entry',
  ],
  ["a route without to", lines("routes:", "  - path: /api/*"), 'routes[0].to (line 2): required: where the requests go, such as "nginx:80"'],
  ["a route with target instead of to", lines("routes:", "  - { path: /x, target: 'web:80' }"), 'routes[0].target (line 2): unknown key "target"; allowed keys: path, to\nroutes[0].to (line 2): required: where the requests go, such as "nginx:80"'],
  ["routes as a mapping", lines("routes: { /x: 'web:80' }"), 'routes (line 1): expected a list such as [{ path: /static/*, to: "nginx:80" }]; got a mapping'],
  ["an unknown preview mode", lines("previews: { services: always }"), 'previews.services (line 1): expected fresh or shared; got "always"'],
  ["an unknown preview access", lines("previews:", "  access: private"), 'previews.access (line 2): expected public or github; got "private"'],
  ["production access as a boolean", lines("access: true"), "access (line 1): expected public or github; got true"],
  ["an expiry without unit", lines("previews:", "  expire_after: 7"), "previews.expire_after (line 2): expected a duration such as 500ms, 2s, 5m, 1h or 7d (a unit is required); got 7"],
  ["an expiry in weeks", lines("previews: { expire_after: 1w }"), 'previews.expire_after (line 1): expected a duration such as 500ms, 2s, 5m, 1h or 7d; got "1w"'],
];

describe("parseManifest on broken files", () => {
  it.each(CORPUS)("reports %s", (_, text, message) => {
    expect(errorOf(text)).toBe(message);
  });

  it("reports every problem of a file at once, in file order", () => {
    const text = lines(
      "name: My Shop", // 1
      "build: { strategy: docker }", // 2
      "web:", // 3
      "  port: http", // 4
      "  volumes: [media:/app/media]", // 5
      "services:", // 6
      "  db:", // 7
      "    imag: postgres:16", // 8
      "routes:", // 9
      "  - { path: /static/*, to: 'nginx:80' }", // 10
    );
    expect(errorOf(text)).toBe(
      [
        'name (line 1): expected a DNS-safe name: lower-case letters, digits and "-", at most 40, not first or last; got "My Shop"',
        'build.strategy (line 2): expected dockerfile or buildpacks; got "docker"',
        'web.port (line 4): expected a whole number from 1 to 65535; got "http"',
        'web.volumes[0] (line 5): volume "media" is not declared; add it to the top-level volumes, e.g. volumes: { media: {} }',
        "services.db.image (line 7): required: the public image to run, such as postgres:16",
        'services.db.imag (line 8): unknown key "imag" (did you mean "image"?); allowed keys: image, command, env, volumes, files, healthcheck, resources',
        'routes[0].to (line 10): "nginx" is not web, a process or a service (declared: web, db)',
      ].join("\n"),
    );
  });

  it("reports problems in merged mappings at the line of the anchor that holds them", () => {
    const text = lines(
      "services:", // 1
      "  base: &base", // 2
      "    image: postgres:16", // 3
      "    env: { PGPORT: [5432] }", // 4
      "  copy:", // 5
      "    <<: *base", // 6
    );
    expect(errorOf(text)).toBe(
      [
        "services.base.env.PGPORT (line 4): expected text, a number or true/false; got a list (write \"\" for an empty value)",
        "services.copy.env.PGPORT (line 4): expected text, a number or true/false; got a list (write \"\" for an empty value)",
      ].join("\n"),
    );
  });

  it("refuses alias bombs instead of expanding them", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) bomb.push(`${"bcdefghij"[i - 1]}: &${"bcdefghij"[i - 1]} [${Array(10).fill(`*${"abcdefghij"[i - 1]}`).join(", ")}]`);
    expect(errorOf(lines(...bomb))).toBe("line 1: the file expands to more than 10000 values; do aliases (*name) nest each other?");
  });
});
