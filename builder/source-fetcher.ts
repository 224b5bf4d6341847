import { mkdir } from "node:fs/promises";
import { ExecError, UserError } from "../core/errors.js";
import { spawnOffThread } from "../core/thread-spawn.js";
import type { Sensitive } from "../core/sensitive.js";
import { isSha } from "../github/source-url.js";

export interface SourceRequest {
  cloneUrl: string;
  sha: string;
  token: Sensitive;
}

/** The port that puts a repository's tree at one commit into a directory. */
export interface SourceFetcher {
  fetch(request: SourceRequest, dir: string, signal?: AbortSignal): Promise<void>;
}

/**
 * The fetch as one shell script: berth spawns one process per fetch instead of three (and from a worker
 * thread, core/thread-spawn.ts: spawning blocks the spawning thread until the child has exec'd); the
 * script's own git runs are forked by the small shell. No template is copied into the new
 * repository (git's sample hooks were most of the files the checkout's removal then walked). The
 * directory, URL and sha are the script's positional parameters, always quoted: never shell words.
 */
const FETCH_SCRIPT = [
  'git init --quiet --template= -- "$1"',
  'git -C "$1" fetch --quiet --depth 1 --no-tags -- "$2" "$3"',
  'git -C "$1" -c advice.detachedHead=false checkout --quiet --detach FETCH_HEAD',
].join(" && ");

/**
 * Fetching runs below berth's own CPU priority: on a small server a burst of builds' git work must not
 * slow the answers to GitHub's webhooks or the apps' requests.
 */
const FETCH_NICENESS = 10;

/**
 * Plans the command of a shallow fetch of one sha; the token travels in the environment, never
 * argv. Only an http(s) URL and a 40-hex sha are accepted, and `--` ends git's options before them,
 * so no value can become a git option (`--upload-pack=…` would run a command).
 */
export function planGitFetch(request: Omit<SourceRequest, "token">, dir: string): { file: string; args: string[] } {
  if (!isSha(request.sha)) throw new Error(`refusing to fetch ${JSON.stringify(request.sha)}: not a 40-hex commit id`);
  if (!/^https?:\/\/[^\s]+$/.test(request.cloneUrl)) throw new Error(`refusing to fetch from ${JSON.stringify(request.cloneUrl)}: not an http(s) URL`);
  return { file: "nice", args: ["-n", String(FETCH_NICENESS), "sh", "-c", FETCH_SCRIPT, "git-fetch", dir, request.cloneUrl, request.sha] };
}

/**
 * Reading process.env is slow (each variable is a call into Node): about a millisecond of the event
 * loop per git command in a profiled webhook burst. berth's environment does not change while it
 * runs, so it is copied once.
 */
let inherited: NodeJS.ProcessEnv | undefined;

const FETCH_TIMEOUT_MS = 10 * 60_000;

/** Fetches with the git CLI over HTTP(S), authenticating as the App installation (x-access-token). */
export class GitSourceFetcher implements SourceFetcher {
  async fetch(request: SourceRequest, dir: string, signal?: AbortSignal): Promise<void> {
    await mkdir(dir, { recursive: true });
    const basic = Buffer.from(`x-access-token:${request.token.unwrap()}`).toString("base64");
    const env = {
      ...(inherited ??= { ...process.env }),
      GIT_TERMINAL_PROMPT: "0",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "http.extraHeader",
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    };
    const step = planGitFetch(request, dir);
    if (signal?.aborted) throw new Error("source fetch cancelled");
    // The shell leads a process group of its own, so a cancel or the timeout ends its git too.
    const child = spawnOffThread(step.file, step.args, { env, detached: true });
    let killed = false;
    const killGroup = (): void => {
      killed = true;
      void child.pid.then((pid) => {
        try {
          if (pid) process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
      });
    };
    signal?.addEventListener("abort", killGroup, { once: true });
    const timer = setTimeout(killGroup, FETCH_TIMEOUT_MS);
    const r = await child.done.finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", killGroup);
    });
    if (signal?.aborted) throw new Error("source fetch cancelled");
    if (killed) throw new Error(`source fetch took longer than ${FETCH_TIMEOUT_MS / 60_000} minutes`);
    if (r.exitCode !== 0) {
      const err = new ExecError(["git fetch", request.cloneUrl, request.sha], r.exitCode ?? undefined, r.stdout, r.stderr);
      // A sha that is not in the repository (force-pushed away) is the pusher's problem, not ours.
      if (/not our ref|couldn't find remote ref|unadvertised object/i.test(r.stderr)) {
        throw new UserError(`Commit ${request.sha} could not be fetched from ${request.cloneUrl}; was it force-pushed away?`, r.stderr);
      }
      throw err;
    }
  }
}
