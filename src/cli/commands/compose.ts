/** `hubcache compose check`: how a compose stack shares the HF cache, and what to fix, by line. */
import type { Command } from 'commander';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HubcacheError } from '../../errors.js';
import { checkCompose, type ComposeCheckResult } from '../../compose/checkCompose.js';
import { loadManifest } from '../../manifest/loadManifest.js';
import { loadComposeFile } from '../../compose/parseComposeFile.js';
import { hfHomeForCacheDir } from '../../manifest/resolveManifestCache.js';
import { addCommonOptions, runCommand, type CommonOptions } from '../context.js';
import type { Output } from '../output.js';

interface ComposeCheckOptions extends CommonOptions {
  manifest?: string;
  volume?: string;
}

/** docker compose's own lookup order. */
const DEFAULT_COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export function registerComposeCommand(program: Command): void {
  const compose = program
    .command('compose')
    .description('check a docker compose stack that shares the Hugging Face cache')
    .addHelpText(
      'after',
      `
Examples:
  $ hubcache compose check
  $ hubcache compose check docker/docker-compose.yml -f docker/hubcache.yaml`,
    );
  const cmd = compose
    .command('check')
    .description('report mounts, HF_HOME/HF_HUB_CACHE and model paths that break cache sharing, each with its line and the fix; exit 1 on problems')
    .argument('[file]', `compose file (default: ${DEFAULT_COMPOSE_FILES.join(', ')} in this folder)`)
    .option('-f, --manifest <file>', 'the manifest to check against (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml if present)')
    .option('--volume <name>', 'the cache volume, when the file does not make it clear');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Finds: services mounting the cache volume at different paths; HF_HOME/HF_HUB_CACHE
that differ between services or lie outside the mount; manifest services that do not
mount the cache; MODEL_PATH-like values (environment, env_file, command) pointing into
snapshots/latest or at links the manifest does not declare, or that do not resolve.
Whether paths resolve is checked for bind mounts, and for named volumes when the
volume's content is here: --cache-dir (its hub folder), or the manifest's hf_home if it
exists on this machine.

Examples:
  $ hubcache compose check
  $ hubcache compose check docker/docker-compose.yml -f docker/hubcache.yaml
  $ hubcache compose check --cache-dir /var/lib/docker/volumes/hf-cache/_data/.huggingface/hub
  $ hubcache compose check stack.yml --volume models-cache --json`,
  );
  cmd.action(
    runCommand(async ({ config, out }, file: string | undefined, options: ComposeCheckOptions) => {
      const path = file ?? (await findDefaultComposeFile());
      const composeFile = await loadComposeFile({ path: resolve(path), displayPath: path });
      const manifest = await loadManifest({ path: options.manifest, envPath: config.manifestPath, required: false });
      // Only a cache the user pointed at (flag) or the manifest's own hf_home, if it exists here, stands for the volume.
      let localHfHome: string | undefined;
      if (options.cacheDir !== undefined) localHfHome = hfHomeForCacheDir({ cacheDir: config.cacheDir, manifest });
      else if (manifest?.hfHome !== undefined && (await stat(manifest.hfHome).then((s) => s.isDirectory(), () => false))) localHfHome = manifest.hfHome;
      const result = await checkCompose({ compose: composeFile, manifest, localHfHome, volume: options.volume });
      out.result({ data: { ...result, manifest: manifest?.path ?? null, localHfHome: localHfHome ?? null }, text: reportLines({ out, result }) });
      return result.problems > 0 ? 1 : 0;
    }),
  );
}

async function findDefaultComposeFile(): Promise<string> {
  for (const name of DEFAULT_COMPOSE_FILES) {
    if (await access(name).then(() => true, () => false)) return name;
  }
  throw new HubcacheError({
    code: 'E_USAGE',
    message: `No compose file here (looked for ${DEFAULT_COMPOSE_FILES.join(', ')})`,
    hint: 'Name it: `hubcache compose check path/to/docker-compose.yml`.',
  });
}

function reportLines(params: { out: Output; result: ComposeCheckResult }): string[] {
  const { result } = params;
  const lines: string[] = [];
  for (const f of result.findings) {
    lines.push(`${f.file}:${f.line}:${f.column}: ${f.severity === 'problem' ? 'problem' : 'note'} [${f.code}] ${f.message}`);
    if (f.fix) lines.push(`    fix: ${f.fix.replace(/\n/g, '\n         ')}`);
  }
  const volume = result.cacheVolume;
  if (lines.length > 0) lines.push('');
  if (volume) lines.push(`Cache: ${volume.label}${volume.target ? ` at ${volume.target}` : ''}, mounted by ${volume.services.join(', ') || 'no service'}`);
  lines.push(result.problems === 0 ? `OK: no problems${result.notes > 0 ? ` (${result.notes} note(s))` : ''}` : `${result.problems} problem(s), ${result.notes} note(s)`);
  return lines;
}
