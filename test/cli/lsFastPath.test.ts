/**
 * `ls` without commander (lsFastPath) takes only plain command lines, and gives
 * what the commander path gives for the same request: the `--opt=value`
 * spelling goes through commander, so each pair below is one request down
 * both paths.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLsFastPath } from '../../src/cli/lsFastPath.js';
import { oddCache } from '../helpers/oddCache.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

describe('parseLsFastPath', () => {
  it('parses the plain options as commander sets them', () => {
    expect(parseLsFastPath({ argv: ['ls'] })).toEqual({ sort: 'name', filter: [] });
    expect(
      parseLsFastPath({ argv: ['ls', '--json', '-q', '--revisions', '--files', '--cache-dir', '/c', '--sort', 'size:asc', '--filter', 'size>1GB', '--filter', 'warnings', '-f', 'm.yaml'] }),
    ).toEqual({ json: true, quiet: true, revisions: true, files: true, cacheDir: '/c', sort: 'size:asc', filter: ['size>1GB', 'warnings'], manifest: 'm.yaml' });
    expect(parseLsFastPath({ argv: ['ls', '--quiet', '--manifest', 'x', '--cache-dir', ''] })).toEqual({ quiet: true, manifest: 'x', cacheDir: '', sort: 'name', filter: [] });
  });

  it('leaves every other command line to commander', () => {
    for (const argv of [
      [],
      ['verify'],
      ['--json', 'ls'],
      ['ls', '--help'],
      ['ls', '-h'],
      ['ls', 'extra'],
      ['ls', '--bogus'],
      ['ls', '--cache-dir=/c'],
      ['ls', '--cache-dir'],
      ['ls', '--cache-dir', '--json'],
      ['ls', '--sort', 'size', '--sort', 'name'],
      ['ls', '-qf', 'x'],
      ['ls', '--', '--json'],
      ['ls', '--filter'],
    ]) {
      expect([argv, parseLsFastPath({ argv })]).toEqual([argv, undefined]);
    }
  });
});

describe('ls: the fast path and commander give the same answer', () => {
  it('same stdout, stderr and exit code for the same request', async () => {
    const { cacheDir } = await oddCache();
    const cwd = await makeTempDir();
    const manifest = join(cwd, 'stack.yaml');
    writeFileSync(manifest, 'services:\n  web:\n    models:\n      - repo: bench-org/model-0\n        file: config.json\n');
    const pairs: Array<[string[], string[]]> = [
      [['--json', '--cache-dir', cacheDir], ['--json', `--cache-dir=${cacheDir}`]],
      [['--json', '--files', '--cache-dir', cacheDir], ['--json', '--files', `--cache-dir=${cacheDir}`]],
      [['--json', '--revisions', '--sort', 'size', '--filter', 'size>1kB', '--cache-dir', cacheDir], ['--json', '--revisions', '--sort=size', '--filter=size>1kB', `--cache-dir=${cacheDir}`]],
      [['--json', '-f', manifest, '--cache-dir', cacheDir], ['--json', `--manifest=${manifest}`, `--cache-dir=${cacheDir}`]],
      [['--json', '--filter', 'type=banana', '--cache-dir', cacheDir], ['--json', '--filter=type=banana', `--cache-dir=${cacheDir}`]],
      [['-q', '--json', '--cache-dir', join(cwd, 'missing')], ['-q', '--json', `--cache-dir=${join(cwd, 'missing')}`]],
    ];
    for (const [fast, slow] of pairs) {
      const [a, b] = await Promise.all([runCli({ args: ['ls', ...fast], cwd }), runCli({ args: ['ls', ...slow], cwd })]);
      expect({ args: fast, code: a.code, stdout: a.stdout, stderr: a.stderr }).toEqual({ args: fast, code: b.code, stdout: b.stdout, stderr: b.stderr });
    }
  });
});
