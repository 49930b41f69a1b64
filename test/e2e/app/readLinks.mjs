// A model service (whisperx, youtube-tools): reads every file under the paths its env file names
// (stable links into the shared cache) and prints their sizes and sha256, as proof they resolve.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = process.env.E2E_MOUNT ?? '/data/.huggingface';
const from = process.env.E2E_ENV_MOUNT ?? '/data/.huggingface';
const files = {};
const read = (path) => {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) read(join(path, name));
    return;
  }
  const bytes = readFileSync(path);
  files[path] = { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
};
const env = {};
for (const name of (process.env.E2E_ENV_NAMES ?? '').split(',').filter(Boolean)) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  // The env file names paths at the mount point of the example; this service may mount elsewhere.
  const path = value.startsWith(`${from}/`) ? `${root}${value.slice(from.length)}` : value;
  env[name] = { path, resolved: realpathSync(path) };
  read(path);
}
const uid = process.getuid();
const groups = process.getgroups();
console.log(`E2E-RESULT ${JSON.stringify({ service: process.env.E2E_SERVICE, uid, groups, env, files })}`);
