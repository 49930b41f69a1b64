/** `hubcache env SERVICE`: the model paths a service needs, as an env file or JSON. */
import type { Command } from 'commander';
import { dirname } from 'node:path';
import { HubcacheError } from '../../errors.js';
import { loadManifest } from '../../manifest/loadManifest.js';
import { resolveManifestCache } from '../../manifest/resolveManifestCache.js';
import { serviceEnv } from '../../manifest/serviceEnv.js';
import { addCommonOptions, runCommand, type CommonOptions } from '../context.js';

interface EnvOptions extends CommonOptions {
  manifest?: string;
  format: string;
  hfHome?: string;
  check: boolean;
}

export function registerEnvCommand(program: Command): void {
  const cmd = program
    .command('env')
    .description('print the stable model paths a service needs (MODEL_PATH=...) for a compose env_file; exit 1 if a link is missing')
    .argument('<service>', 'a service of the manifest')
    .option('-f, --manifest <file>', 'the manifest (default: $HUBCACHE_MANIFEST, else ./hubcache.yaml)')
    .option('--format <format>', 'dotenv | json', 'dotenv')
    .option('--hf-home <dir>', "HF_HOME as the service sees it, for the printed paths (default: the manifest's hf_home)")
    .option('--no-check', 'do not check that the links exist (e.g. to write the env file before the first sync)');
  addCommonOptions(cmd).addHelpText(
    'after',
    `
Paths are <HF_HOME>/links/<service>/<name>: they never change when a revision moves,
so the env file is written once; \`hubcache sync\` swaps what the links point to.
The links are checked in the local cache (--cache-dir, else the manifest, else env).

Examples:
  $ hubcache env llama-cpp > env/llama-cpp.env      # docker compose: env_file: env/llama-cpp.env
  $ hubcache env whisperx --format json
  $ hubcache env llama-cpp --no-check -f docker/hubcache.yaml`,
  );
  cmd.action(
    runCommand(async ({ config, out }, serviceName: string, options: EnvOptions) => {
      if (options.format !== 'dotenv' && options.format !== 'json') {
        throw new HubcacheError({ code: 'E_USAGE', message: `Unknown --format "${options.format}"`, hint: 'Use dotenv or json.' });
      }
      const manifest = await loadManifest({ path: options.manifest, envPath: config.manifestPath, required: true });
      const cache = resolveManifestCache({ manifest, config, cacheDirFlag: options.cacheDir });
      // Printed paths are the services' view: the manifest's hf_home, not where this process finds the cache.
      const hfHome = options.hfHome ?? manifest.hfHome ?? (manifest.cacheDir !== undefined ? dirname(manifest.cacheDir) : cache.hfHome);
      const vars = await serviceEnv({ manifest, service: serviceName, hfHome, localHfHome: cache.hfHome, check: options.check });
      const map = Object.fromEntries(vars.map((v) => [v.name, v.value]));
      const text = options.format === 'json' ? JSON.stringify(map, null, 2) : vars.map((v) => `${v.name}=${dotenvValue(v.value)}`).join('\n');
      const broken = vars.filter((v) => v.state === 'missing' || v.state === 'dangling');
      out.result({ data: { service: serviceName, hfHome, ok: broken.length === 0, vars }, text });
      if (vars.length === 0) out.warn(`service ${serviceName} declares no link with an "env" name in ${manifest.displayPath}`);
      for (const v of broken) {
        out.warn(
          `${v.name}: link ${serviceName}/${v.link} ${v.state === 'missing' ? 'does not exist yet' : 'points to a snapshot that is gone'} (${v.localPath}); run \`hubcache sync\``,
        );
      }
      return broken.length > 0 ? 1 : 0;
    }),
  );
}

/** Plain paths stay bare (what compose and shells read most simply); anything else is single-quoted. */
function dotenvValue(value: string): string {
  return /^[A-Za-z0-9_./:@+-]*$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}
