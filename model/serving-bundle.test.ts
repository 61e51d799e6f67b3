import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// esbuild comes with tsx (a dependency) and vite; it is what wrangler and Lambda bundling use.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

describe('the serving entry point model/model.ts', () => {
  it('bundles without onnx-proto or protobufjs (they are for writing models, offline)', async () => {
    const result = await build({
      entryPoints: [join(here, 'model.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.endsWith('model/onnx-decode.ts'))).toBe(true);
    expect(inputs.filter((input) => /onnx-proto|protobufjs|model\/onnx\.ts$/.test(input))).toEqual(
      [],
    );
  });
});
