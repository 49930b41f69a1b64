/**
 * A reader over a parsed YAML document that keeps every node's line and
 * column: typed getters (map fields, strings, string lists) that report each
 * problem at its position instead of throwing, so a file's problems are all
 * reported at once, like a compiler's. `x-` keys are free-form notes and
 * skipped, as in docker compose files. parseManifest is built on it.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import type { SourcePosition } from './manifest.js';

export interface YamlIssue extends SourcePosition {
  message: string;
}

/** `x-` keys are free-form notes, as in docker compose files. */
export const EXTENSION_KEY_RE = /^x-/;

/** A map's known fields, and the unknown keys already reported (a typo of a required key needs no second message). */
export type YamlFields = Map<string, YamlField> & { unknown?: string[] };

export interface YamlField {
  key: string;
  keyAt: SourcePosition;
  value: Node | null;
  at: SourcePosition;
}

export class YamlReader {
  readonly issues: YamlIssue[] = [];
  private readonly doc: Document;
  private readonly lineCounter: LineCounter;
  private readonly text: string;

  /** Parses `text`; its syntax errors and warnings become the first issues. */
  static parse(text: string): YamlReader {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
    const reader = new YamlReader({ doc, lineCounter, text });
    for (const problem of [...doc.errors, ...doc.warnings]) {
      const [start] = problem.linePos ?? [];
      // The library appends "at line L, column C:" and a code frame; we print the position our way.
      const message = problem.message.split(/ at line \d+, column \d+/)[0] ?? problem.message;
      reader.issue({ line: start?.line ?? 1, column: start?.col ?? 1 }, message.trim());
    }
    return reader;
  }

  constructor(params: { doc: Document; lineCounter: LineCounter; text: string }) {
    this.doc = params.doc;
    this.lineCounter = params.lineCounter;
    this.text = params.text;
  }

  get root(): Node | null {
    return this.resolve(this.doc.contents);
  }

  issue(at: SourcePosition, message: string): void {
    if (!this.issues.some((i) => i.line === at.line && i.column === at.column && i.message === message)) this.issues.push({ ...at, message });
  }

  pos(node: unknown, fallback: SourcePosition = { line: 1, column: 1 }): SourcePosition {
    const range = (node as { range?: [number, number, number] | null } | null | undefined)?.range;
    if (!range) return fallback;
    const { line, col } = this.lineCounter.linePos(range[0]);
    return { line, column: col };
  }

  /** Aliases (`*name`) stand for their anchor's node. */
  resolve(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null | undefined) ?? null;
  }

  describe(node: Node | null): string {
    if (node === null) return 'nothing';
    if (isMap(node)) return 'a map';
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) {
      const v = node.value;
      if (v === null) return 'an empty value';
      if (typeof v === 'number') return `a number (${this.source(node)})`;
      if (typeof v === 'boolean') return `a boolean (${this.source(node)})`;
      if (typeof v === 'string') return `a string ("${v.length > 40 ? `${v.slice(0, 40)}…` : v}")`;
    }
    return 'something else';
  }

  private source(node: Node): string {
    const range = node.range;
    return range ? this.text.slice(range[0], range[1]) : String((node as { value?: unknown }).value);
  }

  /** Checks the node is a map and returns its fields, reporting unknown and non-string keys. */
  fields(params: { node: Node | null; at: SourcePosition; allowed: string[]; what: string }): YamlFields | undefined {
    const node = params.node;
    if (!isMap(node)) {
      this.issue(this.pos(node, params.at), `${params.what} must be a map of keys (${params.allowed.join(', ')}), got ${this.describe(node)}`);
      return undefined;
    }
    const fields: YamlFields = new Map<string, YamlField>();
    fields.unknown = [];
    for (const pair of (node as YAMLMap).items) {
      const keyNode = this.resolve(pair.key);
      const keyAt = this.pos(keyNode, this.pos(node));
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.issue(keyAt, `keys of ${params.what} must be plain names, got ${this.describe(keyNode)}`);
        continue;
      }
      const key = keyNode.value;
      if (EXTENSION_KEY_RE.test(key)) continue;
      if (!params.allowed.includes(key)) {
        const guess = closest({ word: key, candidates: params.allowed });
        this.issue(keyAt, `unknown key "${key}" in ${params.what}${guess ? ` (did you mean "${guess}"?)` : ''}; allowed keys: ${params.allowed.join(', ')}`);
        fields.unknown.push(key);
        continue;
      }
      const value = this.resolve(pair.value);
      fields.set(key, { key, keyAt, value, at: this.pos(value, keyAt) });
    }
    return fields;
  }

  string(field: YamlField | undefined, what: string): string | undefined {
    if (!field) return undefined;
    const node = field.value;
    if (isScalar(node) && typeof node.value === 'string') {
      if (node.value.length === 0) {
        this.issue(field.at, `"${field.key}" of ${what} is empty`);
        return undefined;
      }
      return node.value;
    }
    const quoteHint = isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean') ? ` (quote it: "${this.source(node)}")` : '';
    this.issue(field.at, `"${field.key}" of ${what} must be a string, got ${this.describe(node)}${quoteHint}`);
    return undefined;
  }

  /** A list of strings; each item keeps its own position. */
  stringList(field: YamlField | undefined, what: string): Array<{ value: string; at: SourcePosition }> | undefined {
    if (!field) return undefined;
    const node = field.value;
    if (!isSeq(node)) {
      const example = isScalar(node) && typeof node.value === 'string' ? ` (write it as a list: ["${node.value}"])` : '';
      this.issue(field.at, `"${field.key}" of ${what} must be a list of strings, got ${this.describe(node)}${example}`);
      return undefined;
    }
    if (node.items.length === 0) {
      this.issue(field.at, `"${field.key}" of ${what} is an empty list`);
      return undefined;
    }
    const out: Array<{ value: string; at: SourcePosition }> = [];
    for (const raw of node.items) {
      const item = this.resolve(raw);
      const at = this.pos(item, field.at);
      if (!isScalar(item) || typeof item.value !== 'string' || item.value.length === 0) {
        this.issue(at, `items of "${field.key}" in ${what} must be non-empty strings, got ${this.describe(item)}`);
        continue;
      }
      out.push({ value: item.value, at });
    }
    return out;
  }
}

/** The allowed word a typo most likely meant (edit distance <= 2), if any. */
function closest(params: { word: string; candidates: string[] }): string | undefined {
  const word = params.word.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of params.candidates) {
    const distance = editDistance(word, candidate);
    if (distance <= 2 && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}
