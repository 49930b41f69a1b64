/**
 * What every command starts from: options shared by all commands, the
 * resolved config, the output, and the one place where errors become exit codes.
 */
import type { Command } from 'commander';
import { resolveConfig, type Config } from '../config.js';
import { HubcacheError, fromSystemError } from '../errors.js';
import { Output } from './output.js';

export interface CommonOptions {
  cacheDir?: string;
  json?: boolean;
  quiet?: boolean;
  endpoint?: string;
  token?: string;
  offline?: boolean;
}

export interface CommandContext {
  config: Config;
  out: Output;
}

export function addCommonOptions(command: Command): Command {
  return command
    .option('--cache-dir <dir>', 'hub cache root (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)')
    .option('--json', 'machine-readable output on stdout (logs stay on stderr)')
    .option('-q, --quiet', 'print only the result and errors');
}

export function addNetworkOptions(command: Command): Command {
  return command
    .option('--endpoint <url>', 'Hub URL (default: $HF_ENDPOINT or https://huggingface.co)')
    .option('--token <token>', 'Hub token (default: $HF_TOKEN or the saved token); never printed')
    .option('--offline', 'use only the cache, no network (also $HF_HUB_OFFLINE=1)');
}

export function createContext(options: CommonOptions): CommandContext {
  const config = resolveConfig({
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.offline ? { offline: true } : {}),
  });
  const out = new Output({ json: options.json === true, quiet: options.quiet === true, progress: !config.disableProgressBars });
  return { config, out };
}

/**
 * Wraps a command's action: builds the context, runs it, and turns any error
 * into a message and an exit code. Only bugs get a stack, and only with
 * HUBCACHE_DEBUG=1.
 */
export function runCommand<A extends unknown[]>(
  fn: (ctx: CommandContext, ...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    await runWithOptions({ options: command.optsWithGlobals() as CommonOptions, run: (ctx) => fn(ctx, ...args) });
  };
}

/**
 * runCommand's body, for options already parsed: the argument parser's
 * action, or main.ts's fast path for `ls` (which parses its few options without commander).
 */
export async function runWithOptions(params: { options: CommonOptions; run: (ctx: CommandContext) => Promise<number | void> }): Promise<void> {
  const { options } = params;
  let out = new Output({ json: options.json === true, quiet: options.quiet === true, progress: false });
  let debug = false;
  try {
    const ctx = createContext(options);
    out = ctx.out;
    debug = ctx.config.debug;
    const code = await params.run(ctx);
    process.exitCode = code ?? 0;
  } catch (raw) {
    const err = toHubcacheError(raw);
    out.error(err);
    if (err.code === 'E_INTERNAL' && debug) out.debug(`${(raw as Error).stack}`);
    process.exitCode = err.exitCode;
  }
}

export function toHubcacheError(raw: unknown): HubcacheError {
  if (raw instanceof HubcacheError) return raw;
  const typed = fromSystemError({ err: raw, action: 'complete the operation' });
  if (typed instanceof HubcacheError) return typed;
  const message = raw instanceof Error ? raw.message : String(raw);
  return new HubcacheError({
    code: 'E_INTERNAL',
    message: `Unexpected failure: ${message}`,
    hint: 'This is a bug in hubcache; run again with HUBCACHE_DEBUG=1 for a stack trace and report it.',
    cause: raw,
  });
}
