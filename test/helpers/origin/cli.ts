/**
 * `npm run origin [-- --port 8091 --host 127.0.0.1 --token hf_x --cdn same-server]`:
 * serves the demo fixture until Ctrl-C, for trying hubcache or other clients by hand.
 */
import { parseArgs } from 'node:util';
import { createOrigin } from './createOrigin.js';
import { demoFixture } from './demoFixture.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8091' },
    'cdn-port': { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    token: { type: 'string' },
    cdn: { type: 'string', default: 'separate' },
    'model-size': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    'Usage: npm run origin -- [--port 8091] [--host 127.0.0.1] [--cdn-port N] [--cdn separate|same-server]\n' +
      '                         [--token hf_...] [--model-size BYTES (demo/tiny-model/model.safetensors, default 4 MiB)]\n',
  );
  process.exit(0);
}
if (values.cdn !== 'separate' && values.cdn !== 'same-server') {
  process.stderr.write(`--cdn must be "separate" or "same-server", got "${values.cdn}"\n`);
  process.exit(2);
}

const modelSize = values['model-size'] === undefined ? undefined : Number(values['model-size']);
if (modelSize !== undefined && !(Number.isSafeInteger(modelSize) && modelSize >= 0)) {
  process.stderr.write(`--model-size must be a byte count, got "${values['model-size']}"\n`);
  process.exit(2);
}

const origin = await createOrigin({
  fixture: demoFixture({ modelSize }),
  host: values.host,
  port: Number(values.port),
  cdnPort: Number(values['cdn-port']),
  cdn: values.cdn,
  token: values.token,
});

const tokenNote = values.token ? `HF_TOKEN=${values.token} ` : '';
process.stdout.write(
  [
    `Hub origin listening on ${origin.url} (LFS CDN: ${origin.cdnUrl})`,
    'Repos: demo/tiny-model (main, v1.0, refs/pr/1), datasets/demo/tiny-dataset, demo/private-model (needs a token), demo/gated-model',
    '',
    'Try:',
    `  HF_ENDPOINT=${origin.url} ${tokenNote}hubcache download demo/tiny-model`,
    `  curl -I ${origin.url}/demo/tiny-model/resolve/main/model.safetensors`,
    '',
    'Ctrl-C to stop.',
    '',
  ].join('\n'),
);

const stop = () => {
  void origin.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
