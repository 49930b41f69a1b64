/**
 * The yes/no question destructive commands ask before they run a plan. Only
 * an interactive terminal can answer it; everything else (scripts, CI, pipes)
 * must say `--yes`, so a cleanup never runs because stdin happened to be open.
 */
import { createInterface } from 'node:readline/promises';
import { HubcacheError } from '../errors.js';

export interface ConfirmParams {
  question: string;
  /** `--yes`: confirmed without asking. */
  yes: boolean;
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream;
}

/** Resolves true when confirmed, false when the user said no; throws E_ABORTED when nobody can answer. */
export async function confirm(params: ConfirmParams): Promise<boolean> {
  if (params.yes) return true;
  const input = params.input ?? process.stdin;
  const output = params.output ?? process.stderr;
  if (input.isTTY !== true) {
    throw new HubcacheError({
      code: 'E_ABORTED',
      message: 'Not confirmed: stdin is not a terminal, so nobody can answer the confirmation; nothing was changed',
      hint: 'Pass --yes to run without asking (scripts, CI), or --dry-run to only see the plan.',
    });
  }
  const rl = createInterface({ input, output, terminal: true });
  try {
    const answer = await rl.question(`${params.question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
