#!/usr/bin/env node
/**
 * The `hubcache` binary. Parses arguments and dispatches to one file per
 * command; usage errors exit 2, problems found or failures exit 1.
 *
 * Only the command being run is loaded: startup time is paid on every
 * `MODEL_PATH=$(hubcache ...)` in a compose entrypoint. `--help` loads all.
 * A plain `ls` does not even load commander (lsFastPath).
 */
import { readFileSync } from 'node:fs';
import type { Command, CommanderError } from 'commander';
import { HubcacheError } from '../errors.js';
import { escapeInput } from '../quoteInput.js';
import { Output } from './output.js';

// UV_THREADPOOL_SIZE is set by the bin shim (bin/hubcache.cjs), not here: by the time an ES
// module's body runs, loading it has already started libuv's pool with the default size.

// `hubcache ls | head` closes our stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

type Register = (program: Command) => void;

/** Command name -> loader of its register function, in help order. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  download: async () => (await import('./commands/download.js')).registerDownloadCommand,
  path: async () => (await import('./commands/path.js')).registerPathCommand,
  ls: async () => (await import('./commands/ls.js')).registerLsCommand,
  verify: async () => (await import('./commands/verify.js')).registerVerifyCommand,
  rm: async () => (await import('./commands/rm.js')).registerRmCommand,
  prune: async () => (await import('./commands/prune.js')).registerPruneCommand,
  gc: async () => (await import('./commands/gc.js')).registerGcCommand,
  evict: async () => (await import('./commands/evict.js')).registerEvictCommand,
  doctor: async () => (await import('./commands/doctor.js')).registerDoctorCommand,
  dedupe: async () => (await import('./commands/dedupe.js')).registerDedupeCommand,
  adopt: async () => (await import('./commands/adopt.js')).registerAdoptCommand,
  backup: async () => (await import('./commands/backup.js')).registerBackupCommand,
  restore: async () => (await import('./commands/restore.js')).registerRestoreCommand,
  sync: async () => (await import('./commands/sync.js')).registerSyncCommand,
  env: async () => (await import('./commands/env.js')).registerEnvCommand,
  compose: async () => (await import('./commands/compose.js')).registerComposeCommand,
  serve: async () => (await import('./commands/serve.js')).registerServeCommand,
  push: async () => (await import('./commands/push.js')).registerPushCommand,
  pull: async () => (await import('./commands/pull.js')).registerPullCommand,
};

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

/** Builds the program with the given commands (all when `only` is undefined). */
export async function buildProgram(params: { only?: string } = {}): Promise<Command> {
  const { Command } = await import('commander');
  const program = new Command('hubcache');
  program
    .description('Own a shared Hugging Face hub cache: download-if-missing, stable paths, verify, clean, manifests for compose stacks.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    // Argument errors are reported by main() like every other error (honouring --json);
    // set before the commands are added, which copy the program's settings.
    .configureOutput({ outputError: () => undefined })
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 problems found or operation failed, 2 usage error.
Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_DISABLE_PROGRESS_BARS.

Examples:
  $ hubcache download Qwen/Qwen3-0.6B-GGUF Qwen3-0.6B-Q8_0.gguf
  $ hubcache ls --sort size
  $ hubcache verify --fix
  $ hubcache sync -f hubcache.yaml`,
    );
  const names = params.only !== undefined ? [params.only] : Object.keys(COMMANDS);
  for (const name of names) {
    const load = COMMANDS[name];
    if (load) (await load())(program);
  }
  return program;
}

/** The command word: the first argument that is not an option. */
function commandWord(argv: string[]): string | undefined {
  const first = argv.find((arg) => !arg.startsWith('-'));
  return first !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, first) ? first : undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const word = commandWord(argv);
  if (word === 'ls') {
    const { parseLsFastPath } = await import('./lsFastPath.js');
    const options = parseLsFastPath({ argv });
    if (options) {
      const [{ runLs }, { runWithOptions }] = await Promise.all([import('./commands/ls.js'), import('./context.js')]);
      await runWithOptions({ options, run: (ctx) => runLs(ctx, options) });
      return;
    }
  }
  const [program, { CommanderError }] = await Promise.all([buildProgram(word !== undefined ? { only: word } : {}), import('commander')]);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      if (!ok) reportUsageError({ err, argv: process.argv.slice(2), word });
      process.exitCode = ok ? 0 : 2;
      return;
    }
    throw err;
  }
}

/** A usage error from the argument parser, printed like every other error: JSON on stdout with --json. */
function reportUsageError(params: { err: CommanderError; argv: string[]; word: string | undefined }): void {
  const options = params.argv.slice(0, params.argv.includes('--') ? params.argv.indexOf('--') : undefined);
  const out = new Output({ json: options.includes('--json'), quiet: false, progress: false });
  out.error(
    new HubcacheError({
      code: 'E_USAGE',
      // Commander's messages quote the offending argument as typed: escaped and cut like ours.
      message: escapeInput(params.err.message.replace(/^error: /, ''), 300),
      hint: `Run \`hubcache ${params.word !== undefined ? `${params.word} ` : ''}--help\` for usage.`,
      data: { parserCode: params.err.code },
    }),
  );
}

await main();
