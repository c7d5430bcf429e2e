// Runs an ONNX model in ONNX Runtime (onnxruntime-node) for tests/test_export.py.
// usage: node run.js MODEL.onnx INPUT.f32 DIM... — INPUT.f32 holds the input
// tensor as little-endian float32 values, DIM... its shape. Prints one JSON
// object: the session's input and output names, and the first output's
// dims and values.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, ...dims] = process.argv.slice(2);
  const bytes = fs.readFileSync(input);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const session = await ort.InferenceSession.create(model);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims.map(Number)) };
  const results = await session.run(feeds);
  const out = results[session.outputNames[0]];
  process.stdout.write(JSON.stringify({
    inputs: session.inputNames, outputs: session.outputNames, dims: out.dims, data: Array.from(out.data),
  }) + '\n');
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
