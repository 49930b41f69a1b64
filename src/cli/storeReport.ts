/** Text for `ls --store` and `verify --store` (the data is the listing or report as it is). */
import { formatRepoRef } from '../cache/repoId.js';
import type { StoreListing } from '../store/listStore.js';
import type { VerifyStoreReport } from '../store/verifyStore.js';
import { formatBytes } from './format.js';
import type { Output } from './output.js';

export function storeListingLines(params: { out: Output; listing: StoreListing }): string[] {
  const { out, listing } = params;
  const rows = listing.repos.map((r) => ({
    repo: formatRepoRef(r.repo),
    size: formatBytes(r.sizeBytes),
    commits: String(r.commits.length),
    files: String(r.commits.reduce((n, c) => n + c.files.length, 0)),
    missing: String(r.commits.reduce((n, c) => n + c.files.filter((f) => !f.present).length, 0)),
    refs: r.refs.map((ref) => `${ref.revision}=${ref.commit.slice(0, 8)}`).join(' '),
  }));
  return [
    ...out.table({
      rows,
      columns: [
        { header: 'REPO', value: (r) => r.repo },
        { header: 'SIZE', value: (r) => r.size, align: 'right' },
        { header: 'COMMITS', value: (r) => r.commits, align: 'right' },
        { header: 'FILES', value: (r) => r.files, align: 'right' },
        { header: 'MISSING', value: (r) => r.missing, align: 'right' },
        { header: 'REFS', value: (r) => r.refs },
      ],
    }),
    '',
    `${listing.store}: ${listing.repos.length} repo(s), ${listing.blobs.length} blob(s), ${formatBytes(listing.blobBytes)}`,
  ];
}

export function verifyStoreLines(params: { report: VerifyStoreReport; fix?: boolean }): string[] {
  const { report } = params;
  const lines = report.findings.map((f) => `${f.code === 'FILE_BLOB_MISSING' ? 'note  ' : 'DAMAGE'} ${f.code.padEnd(20)} ${f.key}\n       ${f.message}`);
  const damaged = report.findings.filter((f) => f.code !== 'FILE_BLOB_MISSING');
  lines.push(
    `${report.store}: ${report.blobsChecked} blob(s), ${formatBytes(report.bytesHashed)} hashed: ` +
      (damaged.length === 0 ? 'no damage found' : `${damaged.length} damaged object(s)${params.fix ? '' : ' (verify --store --fix plans their removal)'}`),
  );
  return lines;
}
