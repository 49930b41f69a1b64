// The competitor in the scan benchmark: what a user of @huggingface/hub runs to list the cache.
import { scanCacheDir } from '@huggingface/hub';

const info = await scanCacheDir(process.argv[2]);
let files = 0;
for (const repo of info.repos) for (const revision of repo.revisions) files += revision.files.length;
console.log(JSON.stringify({ repos: info.repos.length, size: info.sizeOnDisk, files }));
