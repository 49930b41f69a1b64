/** `hubcache adopt`: put files the user already has into the cache, verified against the Hub, with no download. */
import type { Command } from 'commander';
import { HubcacheError } from '../../errors.js';
import { formatRepoRef, parseRepoSpec, parseRepoType } from '../../cache/repoId.js';
import { validateRepoFilePath } from '../../cache/repoFilePath.js';
import type { AdoptMode, AdoptProgressEvent } from '../../archive/adoptLocalBlob.js';
import type { AdoptFolderEntry } from '../../archive/adoptFolder.js';
import { addCommonOptions, addNetworkOptions, runCommand } from '../context.js';
import { formatBytes } from '../format.js';
import { hashProgress } from '../hashProgress.js';
import type { Output } from '../output.js';

interface AdoptOptions {
  revision?: string;
  repoType?: string;
  copy?: boolean;
  move?: boolean;
  link?: boolean;
  sha256?: string;
}

export function registerAdoptCommand(program: Command): void {
  const cmd = program
    .command('adopt')
    .description('put a file (or a folder of files) you already have into the cache as a repo file, verified against the Hub, with no download')
    .argument('<repo>', 'repo id, e.g. Qwen/Qwen3-0.6B-GGUF (or dataset/org/name)')
    .argument('<file-or-dir>', 'the file\'s path in the repo, followed by LOCAL_PATH; or, alone, a local folder laid out like the repo')
    .argument('[local-path]', 'the file you have')
    .option('-r, --revision <rev>', 'branch, tag or commit the file is from (default: main); with --sha256: a commit, or a branch already in the cache')
    .option('--repo-type <type>', 'model | dataset | space')
    .option('--copy', 'copy the file into the cache, hashing while copying (default)')
    .option('--move', 'hand the file over: the cache keeps it (a rename-like hard link on the same filesystem, else a verified copy) and the original path is removed once linked')
    .option('--link', 'hard-link the file into the cache (same filesystem only): one inode, two names; editing your file in place then damages the blob')
    .option('--sha256 <hex>', 'the LFS file\'s sha256: check against it instead of asking the Hub (no network; needs -r <commit>)');
  addNetworkOptions(addCommonOptions(cmd)).addHelpText(
    'after',
    `
The file must be the Hub's file at that revision: its size and hash are checked
against the Hub's etag (one HEAD request; no file body is downloaded) before
anything is written. Then blob, snapshot link and ref are written as a download
would write them. A folder is checked against the revision's file listing: each
file present and matching is adopted, each mismatch is reported and left out,
missing files are listed. <folder>/.cache/huggingface/ is ignored.

Examples:
  $ hubcache adopt Qwen/Qwen3-0.6B-GGUF Qwen3-0.6B-Q8_0.gguf ~/Downloads/Qwen3-0.6B-Q8_0.gguf
  $ hubcache adopt org/model model.gguf ./model.gguf --move
  $ hubcache adopt org/model ./local-dir -r v1.0           # what \`hf download --local-dir\` left
  $ HF_HUB_OFFLINE=1 hubcache adopt org/model model.gguf ./model.gguf \\
      -r 0123456789abcdef0123456789abcdef01234567 --sha256 <64 hex>

--link: doctor reports a blob hard-linked outside the cache (and never changes its
mode); verify re-hashes it like any blob, so an edit of your file shows there.
Exit codes: 0 adopted (a folder: every present file matched); 1 a file did not
match (E_INTEGRITY; nothing of it was written), or another failure; 2 usage error.`,
  );
  cmd.action(
    runCommand(async ({ config, out }, repo: string, fileOrDir: string, localPath: string | undefined, options: AdoptOptions) => {
      const ref = parseRepoSpec({ spec: repo, ...(options.repoType ? { defaultType: parseRepoType({ value: options.repoType }) } : {}) });
      const mode = adoptMode(options);
      const common = {
        ...ref,
        cacheDir: config.cacheDir,
        endpoint: config.endpoint,
        token: config.token,
        offline: config.offline,
        ...(options.revision !== undefined ? { revision: options.revision } : {}),
        mode,
        metadataTimeoutMs: config.metadataTimeoutMs,
        onProgress: progressFor(out),
        onWarning: (message: string) => out.warn(message),
      };
      if (localPath !== undefined) {
        validateRepoFilePath({ path: fileOrDir });
        const { adoptFile } = await import('../../archive/adoptFile.js');
        const result = await adoptFile({ ...common, path: fileOrDir, source: localPath, ...(options.sha256 !== undefined ? { sha256: options.sha256 } : {}) });
        out.clearLive();
        out.result({ data: { repo: formatRepoRef(ref), revision: options.revision ?? 'main', ...result }, text: result.snapshotPath });
        if (result.blob === 'already-cached' && mode === 'link') out.info('the cache already held this blob: no hard link was made, your file stays separate');
        out.info(`adopted ${formatRepoRef(ref)}/${result.path} (${formatBytes(result.size)}) at ${result.commit.slice(0, 12)}${result.sourceRemoved ? `; ${localPath} removed` : ''}`);
        return 0;
      }
      if (options.sha256 !== undefined) {
        throw new HubcacheError({ code: 'E_USAGE', message: '--sha256 checks one file: give FILE and LOCAL_PATH', hint: 'Run `hubcache adopt --help` for usage.' });
      }
      const { adoptFolder } = await import('../../archive/adoptFolder.js');
      const result = await adoptFolder({ ...common, folder: fileOrDir, onFile: (entry) => out.info(entryLine(entry)) });
      out.clearLive();
      out.result({ data: result, text: result.snapshotPath });
      out.info(
        `${result.repo}@${result.commit.slice(0, 12)}: ${result.adopted} adopted, ${result.mismatched} refused, ${result.missing} missing` +
          (result.extraCount > 0 ? `, ${result.extraCount} local file(s) not in the repo at this revision (left alone)` : ''),
      );
      return result.ok ? 0 : 1;
    }),
  );
}

function adoptMode(options: AdoptOptions): AdoptMode {
  const chosen = (['copy', 'move', 'link'] as const).filter((m) => options[m] === true);
  if (chosen.length > 1) {
    throw new HubcacheError({ code: 'E_USAGE', message: `Choose one of --copy, --move, --link (got ${chosen.map((m) => `--${m}`).join(' and ')})` });
  }
  return chosen[0] ?? 'copy';
}

function entryLine(entry: AdoptFolderEntry): string {
  switch (entry.status) {
    case 'adopted':
      return `adopted   ${entry.path}`;
    case 'already-cached':
      return `cached    ${entry.path} (the cache already had it)`;
    case 'missing':
      return `missing   ${entry.path}`;
    default:
      return `REFUSED   ${entry.path}: ${entry.message ?? entry.status}`;
  }
}

/** One hashing bar per file, as verify draws it. */
function progressFor(out: Output): ((event: AdoptProgressEvent) => void) | undefined {
  if (!out.progressEnabled) return undefined;
  let current: { path: string; draw: ((e: { bytesDone: number; bytesTotal: number }) => void) | undefined } | undefined;
  return (event) => {
    if (current?.path !== event.path) current = { path: event.path, draw: hashProgress({ out, label: event.path.length > 32 ? `…${event.path.slice(-31)}` : event.path }) };
    current.draw?.(event);
  };
}
