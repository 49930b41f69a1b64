// The competitor in the download benchmarks: what a user of @huggingface/hub runs to fetch one
// file into the hub cache. It does no hash check. Usage: hfjsDownload.mjs HUB_URL REPO PATH CACHE_DIR
import { downloadFileToCacheDir } from '@huggingface/hub';

const [hubUrl, repo, path, cacheDir] = process.argv.slice(2);
console.debug = () => {}; // it logs "Downloading ..." to stdout; keep stdout for the result
const local = await downloadFileToCacheDir({ repo, path, hubUrl, cacheDir });
console.log(local);
