/**
 * `NODE_OPTIONS=--import=<this file>` with HUBCACHE_MODULE_TRACE=<file>: every module a process
 * loads is appended to that file, one URL or path a line. ES modules are seen by a resolve hook
 * (hooks.mjs, on Node's loader thread); CommonJS ones, also those an `import` of a CommonJS package
 * loads (the AWS SDK ships CommonJS to Node), from the require cache when the process exits.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const traceFile = process.env.HUBCACHE_MODULE_TRACE;
if (traceFile) {
  register('./hooks.mjs', { parentURL: import.meta.url, data: { traceFile } });
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    appendFileSync(traceFile, Object.keys(require.cache).map((path) => `${path}\n`).join(''));
  });
}
