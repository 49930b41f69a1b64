/**
 * node-llama-cpp (its model downloader is a real client of `hubcache serve`), installed into the
 * ignored `.cache/node-llama-cpp/` rather than package.json: its optional dependencies are
 * hundreds of MB of CUDA/Vulkan binaries every `npm ci` would pull, and the downloader is pure JS.
 * `--omit=optional --ignore-scripts` skips those binaries and the postinstall that builds llama.cpp.
 *
 * Used two ways, one implementation: `.ci/run` runs this file (`tsx test/helpers/installNodeLlamaCpp.ts`)
 * before `npm test`, and the test calls `installNodeLlamaCpp()` so a local `vitest run` installs it too.
 * A no-op when the pinned version is already there.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Pinned so the test exercises the downloader whose source was read (ipull 3.x, 5 MiB chunks, 3 streams). */
export const NODE_LLAMA_CPP_VERSION = '3.22.1';

/** The install prefix; `node_modules/node-llama-cpp` resolves from here (run child processes with this cwd). */
export const NODE_LLAMA_CPP_PREFIX = fileURLToPath(new URL('../../.cache/node-llama-cpp', import.meta.url));

export type NodeLlamaCppInstall = { ok: true; prefix: string; version: string } | { ok: false; reason: string };

/** Installs node-llama-cpp into the prefix unless the pinned version is there; never throws. */
export async function installNodeLlamaCpp(params: { timeoutMs?: number } = {}): Promise<NodeLlamaCppInstall> {
  if ((await installedVersion()) === NODE_LLAMA_CPP_VERSION) return { ok: true, prefix: NODE_LLAMA_CPP_PREFIX, version: NODE_LLAMA_CPP_VERSION };
  const args = [
    'install',
    '--prefix',
    NODE_LLAMA_CPP_PREFIX,
    '--no-save',
    '--omit=optional',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--no-package-lock',
    `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`,
  ];
  const result = await run({ command: 'npm', args, timeoutMs: params.timeoutMs ?? 300_000 });
  const version = await installedVersion();
  if (version === NODE_LLAMA_CPP_VERSION) return { ok: true, prefix: NODE_LLAMA_CPP_PREFIX, version };
  return { ok: false, reason: `npm ${args.join(' ')} -> ${result.status ?? result.signal}: ${result.output.trim().split('\n').slice(0, 3).join(' | ')}` };
}

async function installedVersion(): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(NODE_LLAMA_CPP_PREFIX, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as { version?: string };
    return manifest.version;
  } catch {
    return undefined;
  }
}

function run(params: { command: string; args: string[]; timeoutMs: number }): Promise<{ status: number | null; signal: string | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(params.command, params.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), params.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ status: null, signal: null, output: String(error) });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, output });
    });
  });
}

// `.ci/run` step: say what happened, exit 0 either way (the test then warns and skips), like .ci/python-hub.sh.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await installNodeLlamaCpp();
  if (result.ok) console.log(`node-llama-cpp ${result.version} in ${result.prefix}`);
  else console.log(`warning: could not install node-llama-cpp; its mirror test will be skipped (${result.reason})`);
}
