#!/usr/bin/env node
/**
 * The `hubcache` binary. Parses arguments and dispatches to one file per
 * command; usage errors exit 2, problems found or failures exit 1.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerDownloadCommand } from './commands/download.js';
import { registerLsCommand } from './commands/ls.js';
import { registerPathCommand } from './commands/path.js';
import { registerVerifyCommand } from './commands/verify.js';
import { registerRmCommand } from './commands/rm.js';
import { registerPruneCommand } from './commands/prune.js';
import { registerGcCommand } from './commands/gc.js';
import { registerEvictCommand } from './commands/evict.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerDedupeCommand } from './commands/dedupe.js';

// Scans and hashes issue many small fs calls; a bigger libuv pool lets them overlap.
// It must be set before the first fs call creates the pool.
process.env.UV_THREADPOOL_SIZE ??= '16';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('hubcache');
  program
    .description('Own a shared Hugging Face hub cache: download-if-missing, stable paths, verify, clean, back up, mirror.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 problems found or operation failed, 2 usage error.
Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_DISABLE_PROGRESS_BARS.

Examples:
  $ hubcache ls --sort size
  $ hubcache path Qwen/Qwen3-0.6B-GGUF Qwen3-0.6B-Q8_0.gguf
  $ hubcache verify --fix`,
    );
  registerDownloadCommand(program);
  registerLsCommand(program);
  registerPathCommand(program);
  registerVerifyCommand(program);
  registerRmCommand(program);
  registerPruneCommand(program);
  registerGcCommand(program);
  registerEvictCommand(program);
  registerDoctorCommand(program);
  registerDedupeCommand(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exitCode = ok ? 0 : 2;
      return;
    }
    throw err;
  }
}

await main();
