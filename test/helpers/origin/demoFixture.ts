/**
 * A small but realistic fixture for trying clients by hand (`npm run origin`)
 * and for smoke tests: branch, tag, PR ref, nested and LFS files, a dataset,
 * and a private and a gated repo.
 */
import { linearRepo, type Fixture } from './fixture.js';

const MiB = 1024 * 1024;

export function demoFixture(params: { modelSize?: number } = {}): Fixture {
  const config = (hidden: number) =>
    `${JSON.stringify({ architectures: ['TinyModel'], hidden_size: hidden, num_hidden_layers: 2 }, null, 2)}\n`;
  return {
    repos: [
      linearRepo({
        repoId: 'demo/tiny-model',
        commits: [
          {
            title: 'Initial commit',
            files: [
              { path: 'README.md', source: '# tiny-model\n\nA demo repo served by the hubcache test origin.\n' },
              { path: 'config.json', source: config(64) },
              { path: 'model.safetensors', source: { size: params.modelSize ?? 4 * MiB, seed: 'demo/tiny-model/model.safetensors' } },
            ],
            refs: ['v1.0'],
          },
          {
            title: 'Add ONNX export and tokenizer',
            files: [
              { path: 'onnx/model.onnx', source: { size: 256 * 1024, seed: 'demo/tiny-model/onnx' } },
              { path: 'tokenizer.json', source: JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1 } } }) },
            ],
            refs: ['main'],
          },
          {
            // An open PR: a commit on top of main that main does not include.
            title: 'Bigger hidden size',
            files: [{ path: 'config.json', source: config(128) }],
            refs: ['refs/pr/1'],
          },
        ],
      }),
      linearRepo({
        repoId: 'demo/tiny-dataset',
        repoType: 'dataset',
        commits: [
          {
            files: [
              { path: 'README.md', source: '# tiny-dataset\n' },
              { path: 'data/train.csv', source: 'text,label\nhello,1\nworld,0\n' },
              { path: 'data/train.parquet', source: { size: 64 * 1024, seed: 'demo/tiny-dataset/parquet' } },
            ],
          },
        ],
      }),
      linearRepo({
        repoId: 'demo/private-model',
        private: true,
        commits: [{ files: [{ path: 'config.json', source: '{"private": true}\n' }] }],
      }),
      linearRepo({
        repoId: 'demo/gated-model',
        gated: true,
        commits: [{ files: [{ path: 'config.json', source: '{"gated": true}\n' }] }],
      }),
    ],
  };
}
