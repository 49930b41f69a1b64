/**
 * A tiny but real GGUF model: llama architecture, 2 layers, 64-wide, F32 weights from a seeded
 * generator, and a SentencePiece-style vocabulary (specials, the 256 byte tokens, a few words).
 * llama.cpp loads it and generates tokens (nonsense ones: the weights are random), which is all the
 * e2e stack needs to prove a service can load the model hubcache synced. About 0.6 MB.
 *
 * Layout (GGUF v3): header, metadata key/values, tensor infos, padding to `general.alignment` (32),
 * then each tensor's data at its aligned offset. Shapes are ggml's (ne[0] first).
 */
import { createHash } from 'node:crypto';

const ALIGNMENT = 32;
const N_EMBD = 64;
const N_HEAD = 4;
const N_FF = 128;
const N_LAYER = 2;
const CONTEXT = 256;

const enum ValueType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}

type MetaValue =
  | { type: ValueType.UINT32 | ValueType.INT32 | ValueType.FLOAT32; value: number }
  | { type: ValueType.BOOL; value: boolean }
  | { type: ValueType.STRING; value: string }
  | { type: ValueType.ARRAY; of: ValueType.STRING; value: string[] }
  | { type: ValueType.ARRAY; of: ValueType.FLOAT32 | ValueType.INT32; value: number[] };

interface Tensor {
  name: string;
  shape: number[];
  /** 'ones' for norms (a random norm weight is fine too, but ones keep the activations sane). */
  init: 'random' | 'ones';
}

/** The GGUF file's bytes; the same seed gives the same bytes. */
export function tinyGguf(params: { seed?: string } = {}): Buffer {
  const vocab = vocabulary();
  const metadata: [string, MetaValue][] = [
    ['general.architecture', { type: ValueType.STRING, value: 'llama' }],
    ['general.name', { type: ValueType.STRING, value: 'hubcache e2e tiny llama (random weights)' }],
    ['general.alignment', { type: ValueType.UINT32, value: ALIGNMENT }],
    ['llama.context_length', { type: ValueType.UINT32, value: CONTEXT }],
    ['llama.embedding_length', { type: ValueType.UINT32, value: N_EMBD }],
    ['llama.block_count', { type: ValueType.UINT32, value: N_LAYER }],
    ['llama.feed_forward_length', { type: ValueType.UINT32, value: N_FF }],
    ['llama.attention.head_count', { type: ValueType.UINT32, value: N_HEAD }],
    ['llama.attention.head_count_kv', { type: ValueType.UINT32, value: N_HEAD }],
    ['llama.rope.dimension_count', { type: ValueType.UINT32, value: N_EMBD / N_HEAD }],
    ['llama.attention.layer_norm_rms_epsilon', { type: ValueType.FLOAT32, value: 1e-5 }],
    ['llama.vocab_size', { type: ValueType.UINT32, value: vocab.tokens.length }],
    ['tokenizer.ggml.model', { type: ValueType.STRING, value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: ValueType.ARRAY, of: ValueType.STRING, value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: ValueType.ARRAY, of: ValueType.FLOAT32, value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: ValueType.ARRAY, of: ValueType.INT32, value: vocab.types }],
    ['tokenizer.ggml.unknown_token_id', { type: ValueType.UINT32, value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: ValueType.UINT32, value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: ValueType.UINT32, value: 2 }],
    ['tokenizer.ggml.add_bos_token', { type: ValueType.BOOL, value: true }],
  ];
  const nVocab = vocab.tokens.length;
  const tensors: Tensor[] = [
    { name: 'token_embd.weight', shape: [N_EMBD, nVocab], init: 'random' },
    { name: 'output_norm.weight', shape: [N_EMBD], init: 'ones' },
    { name: 'output.weight', shape: [N_EMBD, nVocab], init: 'random' },
  ];
  for (let i = 0; i < N_LAYER; i++) {
    tensors.push(
      { name: `blk.${i}.attn_norm.weight`, shape: [N_EMBD], init: 'ones' },
      { name: `blk.${i}.attn_q.weight`, shape: [N_EMBD, N_EMBD], init: 'random' },
      { name: `blk.${i}.attn_k.weight`, shape: [N_EMBD, N_EMBD], init: 'random' },
      { name: `blk.${i}.attn_v.weight`, shape: [N_EMBD, N_EMBD], init: 'random' },
      { name: `blk.${i}.attn_output.weight`, shape: [N_EMBD, N_EMBD], init: 'random' },
      { name: `blk.${i}.ffn_norm.weight`, shape: [N_EMBD], init: 'ones' },
      { name: `blk.${i}.ffn_gate.weight`, shape: [N_EMBD, N_FF], init: 'random' },
      { name: `blk.${i}.ffn_up.weight`, shape: [N_EMBD, N_FF], init: 'random' },
      { name: `blk.${i}.ffn_down.weight`, shape: [N_FF, N_EMBD], init: 'random' },
    );
  }

  const w = new Writer();
  w.raw(Buffer.from('GGUF', 'latin1'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    w.u32(value.type);
    writeValue(w, value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(d);
    w.u32(0); // GGML_TYPE_F32
    w.u64(offset);
    offset = align(offset + 4 * elements(t));
  }
  w.pad();
  const random = seededFloats(params.seed ?? 'hubcache-e2e-tiny-gguf');
  for (const t of tensors) {
    const data = Buffer.alloc(4 * elements(t));
    for (let i = 0; i < elements(t); i++) data.writeFloatLE(t.init === 'ones' ? 1 : random() * 0.08, i * 4);
    w.raw(data);
    w.pad();
  }
  return w.done();
}

/** `<unk>`, `<s>`, `</s>`, `<0x00>`..`<0xFF>` (byte fallback, so any text tokenizes), then some words. */
function vocabulary(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // UNKNOWN, CONTROL, CONTROL
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // BYTE
  }
  const words = ['▁', ...'abcdefghijklmnopqrstuvwxyz'.split(''), '▁the', '▁a', '▁model', '▁cache', '▁hub', '▁hello', '▁world', '▁token', '▁once', '▁upon', '▁time', '.', ','];
  for (const word of words) {
    tokens.push(word);
    types.push(1); // NORMAL
  }
  // SentencePiece merges by score: longer pieces win.
  const scores = tokens.map((t, i) => (types[i] === 1 ? -100 + t.length : 0));
  return { tokens, scores, types };
}

function writeValue(w: Writer, v: MetaValue): void {
  switch (v.type) {
    case ValueType.UINT32:
      w.u32(v.value);
      return;
    case ValueType.INT32:
      w.i32(v.value);
      return;
    case ValueType.FLOAT32:
      w.f32(v.value);
      return;
    case ValueType.BOOL:
      w.raw(Buffer.from([v.value ? 1 : 0]));
      return;
    case ValueType.STRING:
      w.string(v.value);
      return;
    case ValueType.ARRAY:
      w.u32(v.of);
      w.u64(v.value.length);
      for (const item of v.value) {
        if (v.of === ValueType.STRING) w.string(item as string);
        else if (v.of === ValueType.FLOAT32) w.f32(item as number);
        else w.i32(item as number);
      }
  }
}

function elements(t: Tensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

function align(n: number): number {
  return Math.ceil(n / ALIGNMENT) * ALIGNMENT;
}

/** Uniform floats in [-1, 1) from sha256 in counter mode: reproducible, no dependency. */
function seededFloats(seed: string): () => number {
  let counter = 0;
  let block = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 4 > block.length) {
      block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      at = 0;
    }
    const value = block.readUInt32LE(at) / 0x1_0000_0000;
    at += 4;
    return value * 2 - 1;
  };
}

class Writer {
  private chunks: Buffer[] = [];
  private length = 0;

  raw(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.raw(b);
  }
  i32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.raw(b);
  }
  f32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.raw(b);
  }
  u64(n: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.raw(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.raw(bytes);
  }
  pad(): void {
    const extra = align(this.length) - this.length;
    if (extra > 0) this.raw(Buffer.alloc(extra));
  }
  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
