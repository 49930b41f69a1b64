/** The names the e2e run gives what it makes, and what the stack is expected to download. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CACHE_DIR = join(ROOT, '.cache', 'e2e');
export const PROJECT = 'hubcache-e2e';
export const NETWORK = 'hubcache-e2e-net';
export const VOLUME = `${PROJECT}_hf-cache`;
export const HUBCACHE_IMAGE = 'hubcache:e2e';
export const BUILD_STAGE_IMAGE = 'hubcache-e2e/build-stage:latest';
export const GGUF_REPO = 'Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF';
export const GGUF_FILE = 'qwen3-vl-30b-a3b-instruct-q4_k_m.gguf';
/** What docker/hubcache.yaml makes `models` download from the demo fixture (its globs expanded). */
export const SYNCED: Array<{ repo: string; path: string }> = [
  { repo: GGUF_REPO, path: GGUF_FILE },
  ...['config.json', 'preprocessor_config.json', 'tokenizer.json', 'vocabulary.txt', 'model.bin'].map((path) => ({ repo: 'Systran/faster-whisper-large-v3', path })),
  { repo: 'pyannote/speaker-diarization-3.1', path: 'config.yaml' },
];
/** What hub-client downloads on its own through the mirror: a small file, an LFS file, a nested one. */
export const CLIENT = { repo: 'demo/tiny-model', files: ['config.json', 'model.safetensors', 'onnx/model.onnx'] };
export const ONE_SHOT = ['models', 'llama-cpp', 'whisperx', 'youtube-tools', 'hub-client'];
