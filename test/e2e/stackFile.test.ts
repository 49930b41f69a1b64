/**
 * The e2e run's pieces that need no Docker engine: the stack file keeps what the example says and
 * changes only what the machine cannot have; the tiny GGUF is well formed (node-llama-cpp's own
 * GGUF reader parses it when installed). The engine run itself is `npm run e2e`.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { installNodeLlamaCpp } from '../helpers/installNodeLlamaCpp.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { CLIENT_MOUNT, MOUNT, stackFile } from './stackFile.js';
import { tinyGguf } from './tinyGguf.js';

const example = await readFile(new URL('../../docker/docker-compose.yml', import.meta.url), 'utf8');

type Doc = { name?: string; services: Record<string, Record<string, any>>; volumes: unknown; networks: any };

function makeStack(): Doc {
  return parse(
    stackFile({
      example,
      hubcacheImage: 'hubcache:e2e',
      appImage: 'app:x',
      originUrl: 'http://172.18.0.1:1234',
      network: 'net-x',
      client: { repo: 'demo/tiny-model', revision: 'a'.repeat(40), files: ['config.json'] },
    }),
  ) as Doc;
}

describe('the e2e stack file', () => {
  it('keeps the example: volume, mount points, depends_on, env files; no top-level name for compose v1', () => {
    const original = parse(example) as Doc;
    const stack = makeStack();
    expect(original.name).toBeUndefined();
    expect(stack.volumes).toEqual(original.volumes);
    for (const name of Object.keys(original.services)) {
      const [before, after] = [original.services[name]!, stack.services[name]!];
      expect(after.volumes, name).toEqual(before.volumes);
      expect(after.depends_on, name).toEqual(before.depends_on);
      expect(after.env_file, name).toEqual(before.env_file);
    }
    expect(stack.services.models!.command).toEqual(original.services.models!.command);
    expect(stack.services.models!.environment).toMatchObject({ ...original.services.models!.environment, HF_ENDPOINT: 'http://172.18.0.1:1234' });
    expect(stack.services['llama-cpp']!.ports).toBeUndefined();
    expect(stack.networks).toEqual({ default: { external: true, name: 'net-x' } });
  });

  it('adds the mirror on the same volume and a client of another uid mounting it elsewhere', () => {
    const stack = makeStack();
    expect(stack.services.mirror!.command.slice(0, 1)).toEqual(['serve']);
    expect(stack.services.mirror!.volumes).toEqual([`hf-cache:${MOUNT}`]);
    const client = stack.services['hub-client']!;
    expect(client.user).toBe('1001:1001');
    expect(client.group_add).toEqual(['1000']);
    expect(client.volumes).toEqual([`hf-cache:${CLIENT_MOUNT}`]);
    expect(client.environment.HF_ENDPOINT).toBe('http://mirror:8090');
  });
});

describe('the tiny GGUF', () => {
  it('is GGUF v3 with 21 tensors, aligned, reproducible', () => {
    const bytes = tinyGguf();
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(Number(bytes.readBigUInt64LE(8))).toBe(3 + 2 * 9);
    expect(bytes.length % 32).toBe(0);
    expect(tinyGguf().equals(bytes)).toBe(true);
  });

  it("parses with node-llama-cpp's GGUF reader as a llama model", async (ctx) => {
    const install = await installNodeLlamaCpp();
    if (!install.ok) {
      console.warn(`skipped: node-llama-cpp could not be installed (${install.reason})`);
      ctx.skip();
      return;
    }
    const dir = await makeTempDir({ prefix: 'hubcache-gguf-' });
    const file = join(dir, 'tiny.gguf');
    await writeFile(file, tinyGguf());
    const script = `import { readGgufFileInfo } from 'node-llama-cpp';
const info = await readGgufFileInfo(process.env.GGUF);
process.stdout.write(JSON.stringify({ arch: info.metadata.general.architecture, tensors: info.tensorInfo.length, vocab: info.metadata.tokenizer.ggml.tokens.length, layers: info.metadata.llama.block_count }));`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: install.prefix, env: { ...process.env, GGUF: file } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(stderr))));
    });
    expect(JSON.parse(out)).toEqual({ arch: 'llama', tensors: 21, vocab: 3 + 256 + 40, layers: 2 });
  });
});
