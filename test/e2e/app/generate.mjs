// llama-cpp service: loads MODEL_PATH (from its env file, a stable link hubcache sync points at the
// snapshot) with node-llama-cpp's prebuilt llama.cpp, generates a few tokens, prints the result.
import { realpathSync } from 'node:fs';
import { getLlama } from 'node-llama-cpp';

const modelPath = process.env.MODEL_PATH;
if (!modelPath) throw new Error('MODEL_PATH is not set');
const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: 'warn' });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: 128 });
const sequence = context.getSequence();
const tokens = [];
for await (const token of sequence.evaluate(model.tokenize('once upon a time'), { temperature: 0 })) {
  tokens.push(token);
  if (tokens.length >= 8) break;
}
const result = { service: 'llama-cpp', modelPath, resolved: realpathSync(modelPath), tokens, text: model.detokenize(tokens) };
await context.dispose();
await model.dispose();
console.log(`E2E-RESULT ${JSON.stringify(result)}`);
