/**
 * The GPU for tests: one device per test file, opened through the same Node
 * path as the CLI (MLA_ADAPTER picks the adapter). Under CI=true a missing
 * adapter fails the run; elsewhere the GPU tests are skipped with a note.
 */
import { openNodeDevice } from '../../src/gpu/node-device';
import { describeAdapter, type GpuContext } from '../../src/gpu/device';

let opened: Promise<GpuContext | undefined> | undefined;

export function testGpu(): Promise<GpuContext | undefined> {
  opened ??= openNodeDevice().then(
    (ctx) => {
      process.stderr.write(`[gpu tests] ${describeAdapter(ctx.adapter)}\n`);
      return ctx;
    },
    (err: Error) => {
      if (process.env.CI) throw new Error(`GPU tests are required under CI but no adapter was found: ${err.message}`);
      process.stderr.write(`[gpu tests] skipped: ${err.message}\n`);
      return undefined;
    },
  );
  return opened;
}

/**
 * Which kernel matrix to run: MLA_TEST_MATRIX if set ('full' or 'cover'), else
 * 'cover' (a covering subset) on SwiftShader, whose compiles take seconds
 * each and whose every case the full matrix on llvmpipe also runs, and
 * 'full' on every other adapter.
 */
export function testMatrix(ctx: GpuContext): 'full' | 'cover' {
  const m = process.env.MLA_TEST_MATRIX ?? (/swiftshader/i.test(describeAdapter(ctx.adapter)) ? 'cover' : 'full');
  if (m !== 'full' && m !== 'cover') throw new Error(`MLA_TEST_MATRIX = ${JSON.stringify(m)} is not allowed: MLA_TEST_MATRIX must be full or cover`);
  return m;
}
