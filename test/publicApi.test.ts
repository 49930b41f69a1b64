/**
 * The library's public API (src/index.ts): the operations ARCHITECTURE.md
 * lists are exported, with the parsers their inputs need, and every named
 * Params/Result type an exported function takes or returns is exported too
 * (checked with the TypeScript compiler, so a new export cannot forget one).
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';

const INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const SRC = fileURLToPath(new URL('../src/', import.meta.url));

describe('public API', () => {
  it('exports the operations ARCHITECTURE.md describes and the parsers their inputs need', () => {
    const promised = [
      'scanCache', 'resolveCachedFile', 'lookupCachedFile', 'acquireLock', 'withLock', 'verifyCache', 'downloadFile', 'downloadRepo',
      'planRm', 'planPrune', 'planGc', 'planEvict', 'executePlan', 'doctorCache', 'dedupeCache', 'parseManifest', 'loadManifest',
      'syncManifest', 'manifestPins', 'checkCompose', 'resolveConfig', 'HubcacheError',
      // What the inputs of the ones above are made from: rm targets, compose files.
      'parseRmTarget', 'loadComposeFile', 'parseComposeFile',
    ];
    const missing = promised.filter((name) => typeof (api as Record<string, unknown>)[name] !== 'function');
    expect(missing).toEqual([]);
  });

  it('exports every named type that an exported function takes or returns', () => {
    const program = ts.createProgram([INDEX], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true });
    const checker = program.getTypeChecker();
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!;
    const exports = checker.getExportsOfModule(moduleSymbol);
    const exported = new Set(exports.map((s) => s.name));
    const needed = new Map<string, string>();
    /** Named types declared in src/ that a signature mentions (through Promise, unions, arrays, intersections). */
    const collect = (type: ts.Type, user: string, depth = 0): void => {
      if (depth > 3 || type.flags & ts.TypeFlags.TypeParameter) return;
      const named = type.aliasSymbol ?? type.getSymbol();
      const declaredInSrc = named?.declarations?.some((d) => d.getSourceFile().fileName.startsWith(SRC)) === true;
      if (named && declaredInSrc && named.name !== '__type' && named.name !== '__object') {
        if (!needed.has(named.name)) needed.set(named.name, user);
        return;
      }
      if (type.isUnionOrIntersection()) for (const t of type.types) collect(t, user, depth + 1);
      for (const arg of checker.getTypeArguments(type as ts.TypeReference) ?? []) collect(arg, user, depth + 1);
      for (const arg of type.aliasTypeArguments ?? []) collect(arg, user, depth + 1);
    };
    for (const symbol of exports) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      if (!(target.flags & ts.SymbolFlags.Function)) continue;
      const type = checker.getTypeOfSymbol(target);
      for (const signature of type.getCallSignatures()) {
        for (const parameter of signature.getParameters()) collect(checker.getTypeOfSymbol(parameter), symbol.name);
        collect(signature.getReturnType(), symbol.name);
      }
    }
    const missing = [...needed].filter(([name]) => !exported.has(name)).map(([name, user]) => `${name} (used by ${user})`);
    expect(missing).toEqual([]);
    // The check itself works: it found the types of the main operations.
    expect([...needed.keys()]).toEqual(expect.arrayContaining(['DownloadFileParams', 'ScanCacheParams', 'CacheScan', 'Plan']));
  }, 60_000);
});
