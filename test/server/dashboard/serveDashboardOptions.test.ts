/** `hubcache serve`'s dashboard options as users pass them: checked (exit 2), and a token-only mirror keeps its repo list private. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/runCli.js';
import { startServeProcess } from '../../helpers/startServeProcess.js';
import { makeTempDir } from '../../helpers/tempDir.js';

describe('serve dashboard options', () => {
  it('rejects a missing or empty admin token file and a bad budget with exit 2', async () => {
    const dir = await makeTempDir();
    const empty = join(dir, 'empty');
    await writeFile(empty, '# nobody\n');
    for (const args of [['--admin-token-file', join(dir, 'missing')], ['--admin-token-file', empty], ['--budget', 'lots']]) {
      const result = await runCli({ args: ['serve', '--port', '0', '--cache-dir', join(dir, 'hub'), ...args, '--json'] });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.json().error.code).toBe('E_USAGE');
    }
  });

  it('with --token-file: no dashboard without admin tokens; with them, reads need one', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'clients'), 'client-token-1\n');
    await writeFile(join(dir, 'admins'), 'ops:admin-token-1\n');
    const common = ['--cache-dir', join(dir, 'hub'), '--upstream', 'http://127.0.0.1:9', '--token-file', join(dir, 'clients')];
    const off = await startServeProcess({ args: common });
    try {
      expect((await fetch(`${off.url}/api/hubcache/overview`)).status).toBe(404);
      expect(off.stderr()).toContain('dashboard off');
    } finally {
      expect(await off.stop()).toBe(0);
    }
    const on = await startServeProcess({ args: [...common, '--admin-token-file', join(dir, 'admins')] });
    try {
      expect((await fetch(`${on.url}/`)).status).toBe(200);
      expect((await fetch(`${on.url}/api/hubcache/overview`)).status).toBe(401);
      expect((await fetch(`${on.url}/api/hubcache/overview`, { headers: { authorization: 'Bearer client-token-1' } })).status).toBe(401);
      expect((await fetch(`${on.url}/api/hubcache/overview`, { headers: { authorization: 'Bearer admin-token-1' } })).status).toBe(200);
    } finally {
      expect(await on.stop()).toBe(0);
    }
  });
});
