import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { SourceFetcher, SourceRequest } from "../../../builder/source-fetcher.js";

/** A repository's files at one commit, by repository-relative path. */
export type FileTree = Record<string, string>;

/**
 * Puts a scripted file tree into the checkout directory instead of fetching with git: the tree of
 * the requested sha when one is set for it, else the default tree. Requests are kept (token redacted
 * as the Sensitive it is).
 */
export class FakeSourceFetcher implements SourceFetcher {
  readonly requests: SourceRequest[] = [];
  readonly trees = new Map<string, FileTree>();

  constructor(public tree: FileTree = { Dockerfile: "FROM scratch\n" }) {}

  async fetch(request: SourceRequest, dir: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.requests.push(request);
    await mkdir(dir, { recursive: true });
    for (const [path, content] of Object.entries(this.trees.get(request.sha) ?? this.tree)) {
      const target = join(dir, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    }
  }
}
