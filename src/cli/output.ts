/**
 * The only place that writes to the terminal. Machine output (`--json`) goes
 * to stdout; logs, warnings and progress go to stderr so `--json` stays
 * parseable and `path=$(hubcache download ...)` captures only the path.
 */
import { HubcacheError } from '../errors.js';

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  /** Progress bars allowed (TTY, not CI, not disabled by env). */
  progress: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  align?: 'left' | 'right';
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly progressEnabled: boolean;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private liveLines = 0;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.progressEnabled = options.progress && !options.quiet && this.stderr.isTTY === true;
  }

  /** The command's result: JSON in json mode, otherwise the given text. */
  result(params: { data: unknown; text?: string | string[] }): void {
    this.clearLive();
    if (this.json) {
      this.stdout.write(`${JSON.stringify(params.data, null, 2)}\n`);
      return;
    }
    if (params.text === undefined) return;
    const text = Array.isArray(params.text) ? params.text.join('\n') : params.text;
    if (text.length > 0) this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Informational line for humans (stderr, so it never mixes with --json output; silent with --quiet). */
  info(message: string): void {
    if (this.quiet) return;
    this.clearLive();
    this.stderr.write(`${message}\n`);
  }

  /** Diagnostics for bug reports (stack traces), always on stderr. */
  debug(message: string): void {
    this.clearLive();
    this.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    if (this.quiet) return;
    this.clearLive();
    this.stderr.write(`warning: ${message}\n`);
  }

  error(err: HubcacheError): void {
    this.clearLive();
    if (this.json) {
      this.stdout.write(`${JSON.stringify({ error: err.toJSON() }, null, 2)}\n`);
    }
    this.stderr.write(`error: ${err.message}\n`);
    if (err.hint) this.stderr.write(`hint: ${err.hint}\n`);
  }

  table<Row>(params: { rows: Row[]; columns: Array<Column<Row>> }): string[] {
    const { rows, columns } = params;
    const cells = rows.map((row) => columns.map((c) => c.value(row)));
    const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => (r[i] as string).length)));
    const line = (values: string[]): string =>
      values
        .map((v, i) => ((columns[i] as Column<Row>).align === 'right' ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
        .join('  ')
        .trimEnd();
    return [line(columns.map((c) => c.header)), ...cells.map(line)];
  }

  /** Redraws a block of progress lines in place on stderr. */
  live(lines: string[]): void {
    if (!this.progressEnabled) return;
    const columns = this.stderr.columns ?? 100;
    let out = this.liveLines > 0 ? `\x1b[${this.liveLines}F` : '';
    for (const line of lines) out += `\x1b[2K${line.length > columns - 1 ? line.slice(0, columns - 1) : line}\n`;
    if (lines.length < this.liveLines) out += '\x1b[0J';
    this.stderr.write(out);
    this.liveLines = lines.length;
  }

  clearLive(): void {
    if (this.liveLines === 0) return;
    this.stderr.write(`\x1b[${this.liveLines}F\x1b[0J`);
    this.liveLines = 0;
  }
}
