import { type Document, LineCounter, type Node, isAlias, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { type ManifestIssue, type ManifestPath, formatPath } from "./manifest-error.js";

/*
 * Why `yaml` and not js-yaml (the design card's parser): errors must name the line of the key they are
 * about, and js-yaml 4 reports positions for syntax errors only. `yaml` keeps a source range on every
 * node, and its LineCounter turns offsets into lines.
 */

/** Lines of the keys and list items of a parsed value, mirroring its shape. */
export interface LineTree {
  line: number;
  children: Map<string | number, LineTree>;
}

/** A parsed manifest: plain data (mappings have a null prototype), the line of every key, and syntax problems. */
export interface YamlSource {
  value: unknown;
  lines: LineTree;
  issues: ManifestIssue[];
}

// Aliases can nest each other into billions of values from a few lines ("billion laughs").
const MAX_VALUES = 10_000;

class TooManyValues extends Error {}

/** Parses YAML text into plain data and the line of every key; never throws on bad input. */
export function readYaml(text: string): YamlSource {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true, merge: false });
  const lineAt = (offset: number): number => counter.linePos(offset).line;
  const root: LineTree = { line: 1, children: new Map() };
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({ path: "", line: lineAt(e.pos[0]), message: syntaxMessage(e.code, e.message) }));
    return { value: undefined, lines: root, issues };
  }
  const walker = new Walker(doc, lineAt);
  try {
    const { value, lines } = walker.walk(doc.contents, [], 1);
    return { value, lines, issues: walker.issues };
  } catch (e) {
    if (!(e instanceof TooManyValues)) throw e;
    const message = `the file expands to more than ${MAX_VALUES} values; do aliases (*name) nest each other?`;
    return { value: undefined, lines: root, issues: [{ path: "", line: 1, message }] };
  }
}

/** The line of the deepest key on `path` that exists: a missing key is reported where its parent is. */
export function lineOf(tree: LineTree, path: ManifestPath): number {
  let node = tree;
  for (const part of path) {
    const child = node.children.get(part);
    if (!child) break;
    node = child;
  }
  return node.line;
}

function syntaxMessage(code: string, message: string): string {
  if (code === "MULTIPLE_DOCS") return "expected one YAML document; remove the second ---";
  return message;
}

class Walker {
  readonly issues: ManifestIssue[] = [];
  #count = 0;
  // Collections being walked, to catch an alias that points into its own anchor.
  readonly #open = new Set<Node>();

  constructor(
    private readonly doc: Document,
    private readonly lineAt: (offset: number) => number,
  ) {}

  walk(node: unknown, path: ManifestPath, line: number): { value: unknown; lines: LineTree } {
    if (++this.#count > MAX_VALUES) throw new TooManyValues();
    const lines: LineTree = { line, children: new Map() };
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) return this.fail(path, line, `alias *${node.source} has no anchor &${node.source} before it`);
      if (this.#open.has(target)) return this.fail(path, line, `alias *${node.source} points into its own anchor`);
      return this.walk(target, path, line);
    }
    if (isScalar(node)) return { value: node.value, lines };
    if (isSeq(node)) {
      this.#open.add(node);
      const value = node.items.map((item, i) => {
        const child = this.walk(item, [...path, i], this.lineOfNode(item, line));
        lines.children.set(i, child.lines);
        return child.value;
      });
      this.#open.delete(node);
      return { value, lines };
    }
    if (isMap(node)) {
      this.#open.add(node);
      const value = this.walkMap(node.items, path, lines);
      this.#open.delete(node);
      return { value, lines };
    }
    // An empty document, or `key:` with nothing after it.
    return { value: null, lines };
  }

  /**
   * YAML 1.2 dropped merge keys, but js-yaml (and docker-compose) honour `<<: *defaults`, so berth does
   * too: keys written in the mapping win over merged ones, and earlier merged mappings over later ones.
   */
  private walkMap(pairs: { key: unknown; value: unknown }[], path: ManifestPath, lines: LineTree): Record<string, unknown> {
    const out: Record<string, unknown> = Object.create(null);
    const isMerge = (key: unknown): boolean => isScalar(key) && key.type === "PLAIN" && key.value === "<<";
    const written = new Set(pairs.filter((p) => !isMerge(p.key) && isScalar(p.key)).map((p) => String((p.key as { value: unknown }).value)));
    for (const pair of pairs) {
      const keyLine = this.lineOfNode(pair.key, lines.line);
      if (isMerge(pair.key)) {
        for (const source of this.mergeSources(pair.value, path, keyLine)) {
          for (const key of Object.keys(source.value)) {
            if (written.has(key) || Object.hasOwn(out, key)) continue;
            out[key] = source.value[key];
            const childLines = source.lines.children.get(key);
            if (childLines) lines.children.set(key, childLines);
          }
        }
        continue;
      }
      if (!isScalar(pair.key)) {
        this.fail(path, keyLine, "keys must be plain words, not mappings or lists");
        continue;
      }
      const key = String(pair.key.value);
      const child = this.walk(pair.value, [...path, key], keyLine);
      out[key] = child.value;
      lines.children.set(key, child.lines);
    }
    return out;
  }

  private mergeSources(node: unknown, path: ManifestPath, line: number): { value: Record<string, unknown>; lines: LineTree }[] {
    const items = isSeq(node) ? node.items : [node];
    const sources: { value: Record<string, unknown>; lines: LineTree }[] = [];
    for (const item of items) {
      const { value, lines } = this.walk(item, path, line);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) sources.push({ value: value as Record<string, unknown>, lines });
      else this.fail(path, line, "<< merges mappings: write <<: *name or <<: [*a, *b] where the anchors are mappings");
    }
    return sources;
  }

  private lineOfNode(node: unknown, fallback: number): number {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lineAt(range[0]) : fallback;
  }

  private fail(path: ManifestPath, line: number, message: string): { value: undefined; lines: LineTree } {
    this.issues.push({ path: formatPath(path), line, message });
    return { value: undefined, lines: { line, children: new Map() } };
  }
}
