/** Loader hooks of register.mjs: each resolved module URL is appended to the trace file. */
import { appendFileSync } from 'node:fs';

let traceFile;

export function initialize(data) {
  traceFile = data.traceFile;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(traceFile, `${resolved.url}\n`);
  return resolved;
}
