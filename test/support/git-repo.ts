import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { barePath } from "./fake-github.js";

const git = (cwd: string, ...args: string[]): string =>
  execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "Octo Cat", GIT_AUTHOR_EMAIL: "octocat@example.com", GIT_COMMITTER_NAME: "Octo Cat", GIT_COMMITTER_EMAIL: "octocat@example.com" },
  }).trim();

/** A file's content in a commit: text, null to delete it, or a symbolic link to a target. */
export type FileContent = string | null | { link: string };

/** A real repository: a bare one served by the fake GitHub, and a work tree that commits and pushes to it. */
export class TestRepo {
  readonly work: string;
  readonly bare: string;
  head = "0000000000000000000000000000000000000000";

  constructor(gitRoot: string, readonly owner: string, readonly name: string, readonly branch = "main") {
    this.bare = barePath(gitRoot, owner, name);
    mkdirSync(dirname(this.bare), { recursive: true });
    git(tmpdir(), "init", "--quiet", "--bare", `--initial-branch=${branch}`, this.bare);
    // GitHub serves any reachable commit by sha; git's default http-backend would refuse a shallow fetch by sha.
    git(this.bare, "config", "uploadpack.allowAnySHA1InWant", "true");
    git(this.bare, "config", "http.receivepack", "true");
    this.work = mkdtempSync(join(tmpdir(), `berth-work-${name}-`));
    git(this.work, "init", "--quiet", `--initial-branch=${branch}`);
    git(this.work, "remote", "add", "origin", this.bare);
  }

  /** Writes files (null deletes), commits and pushes; returns the new sha. */
  commit(files: Record<string, FileContent>, message = "change"): string {
    this.write(files);
    git(this.work, "add", "-A");
    git(this.work, "commit", "--quiet", "--allow-empty", "-m", message);
    git(this.work, "push", "--quiet", "origin", `HEAD:${this.branch}`);
    this.head = git(this.work, "rev-parse", "HEAD");
    return this.head;
  }

  /**
   * Commits on a side branch and publishes it as `refs/pull/<n>/head` in the served repository, the
   * way GitHub exposes every pull request head (forks included) in the base repository.
   */
  commitToPull(pr: number, files: Record<string, FileContent>, message = "pr change"): string {
    const current = git(this.work, "rev-parse", "--abbrev-ref", "HEAD");
    if (current !== `pr-${pr}`) {
      const exists = git(this.work, "branch", "--list", `pr-${pr}`);
      git(this.work, "checkout", "--quiet", ...(exists ? [] : ["-b"]), `pr-${pr}`);
    }
    this.write(files);
    git(this.work, "add", "-A");
    git(this.work, "commit", "--quiet", "--allow-empty", "-m", message);
    git(this.work, "push", "--quiet", "--force", "origin", `HEAD:refs/pull/${pr}/head`);
    const sha = git(this.work, "rev-parse", "HEAD");
    git(this.work, "checkout", "--quiet", this.branch);
    return sha;
  }

  /** Writes files into the work tree; null deletes, { link } makes a symbolic link (as git stores one). */
  private write(files: Record<string, FileContent>): void {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      rmSync(full, { force: true });
      if (content === null) continue;
      mkdirSync(dirname(full), { recursive: true });
      if (typeof content === "string") writeFileSync(full, content);
      else symlinkSync(content.link, full);
    }
  }

  cleanup(): void {
    rmSync(this.work, { recursive: true, force: true });
    rmSync(this.bare, { recursive: true, force: true });
  }
}

/** A Dockerfile for a static site on the local busybox stand-in image. */
export function staticSite(body: string, port = 8080): Record<string, string> {
  return {
    Dockerfile: `FROM berth-standin/busybox:latest\nCOPY index.html /www/index.html\nEXPOSE ${port}\nCMD ["httpd", "-f", "-p", "${port}", "-h", "/www"]\n`,
    "index.html": body,
  };
}

/** A static site whose build has a slow step, unique per call so that no layer cache skips it. */
export function slowSite(body: string, seconds: number): Record<string, string> {
  return withSlowStep(staticSite(body), seconds);
}

/** The same files with a slow build step before the first COPY of their Dockerfile, unique per call. */
export function withSlowStep(files: Record<string, string>, seconds: number): Record<string, string> {
  return { ...files, Dockerfile: (files.Dockerfile ?? "").replace("\nCOPY", `\nRUN echo ${Date.now()} && sleep ${seconds}\nCOPY`) };
}
