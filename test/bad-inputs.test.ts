/**
 * The bad-input catalogue: hostile and strange inputs to the CLI, each with
 * the exit code and the key words of the message (the flag or file, and what
 * is allowed). Nothing may pass silently (a flag ignored, an input
 * overwritten, NaN agreeing with NaN), crash (a stack trace, a raw runtime
 * error) or hang. Inputs that are legal but strange (every index invalid, a
 * zero query, empty rows) must give the reference's answer.
 *
 * Cases that fail before a device is opened run several at a time; the ones
 * that reach the GPU run one by one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu } from './support/gpu';
import { type CliResult, cli } from './support/cli';
import { type NpyArray, encodeNpy } from '../src/run/npy';
import { presetShape } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { kvLayout } from '../src/mla/kv-layout';
import { quantizeKvCache } from '../src/mla/kv-quant';

const gpu = await testGpu();


/** A catalogue entry: the command, the exit code, and words the message must hold. */
interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly code: number;
  readonly words: readonly (string | RegExp)[];
  readonly env?: Record<string, string>;
}

const dir = mkdtempSync(join(tmpdir(), 'mla-bad-inputs-'));
const at = (name: string) => join(dir, name);
function npy(name: string, array: NpyArray): string {
  writeFileSync(at(name), encodeNpy(array));
  return at(name);
}
/** A .npy file whose header says `shape` (written as given, so it may be nonsense). */
function rawNpy(name: string, descr: string, shape: string, dataBytes: number, fortran = 'False'): string {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const bytes = new Uint8Array(10 + header.length + dataBytes);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(bytes.buffer).setUint16(8, header.length, true);
  bytes.set(new TextEncoder().encode(header), 10);
  writeFileSync(at(name), bytes);
  return at(name);
}

// A small valid request of your own: V3.2 head, 2 heads, seqlens 70 and 9, page 64.
const shape = presetShape('v32', { seqlens: [70, 9], hQ: 2 });
const inp = generateInputs(shape, { seed: 21 });
const kvClean = inp.kvRows.map((v) => (Number.isNaN(v) ? 0 : v));
const blocks = inp.cache.numBlocks;
const q = npy('q.npy', { dtype: 'float32', shape: [2, 1, 2, 576], data: inp.q });
const kv = npy('kv.npy', { dtype: 'float32', shape: [blocks, 64, 1, 576], data: kvClean });
const seqlens = npy('seqlens.npy', { dtype: 'int32', shape: [2], data: inp.cache.seqlens });
const table = npy('bt.npy', { dtype: 'int32', shape: [2, inp.cache.maxBlocksPerSeq], data: inp.cache.blockTable });
const own = ['--q', q, '--kv-cache', kv, '--cache-seqlens', seqlens, '--block-table', table];
const ownWith = (over: Partial<Record<'q' | 'kv' | 'seqlens' | 'table', string>>) =>
  ['--q', over.q ?? q, '--kv-cache', over.kv ?? kv, '--cache-seqlens', over.seqlens ?? seqlens, '--block-table', over.table ?? table];
const firstSlot = inp.cache.blockTable[0] * 64; // request 0, token 0
const unusedSlot = inp.cache.poisonBlock * 64;
const withValue = (data: Float32Array, index: number, value: number) => { const d = data.slice(); d[index] = value; return d; };
const fp8Bytes = quantizeKvCache(kvClean, kvLayout('fp8', shape, 64));

/** Flags whose values are wrong: each message names the flag and what it allows. */
const FLAG_VALUES: Case[] = [
  ['--kv', 'fp4', '--kv must be one of f32, bf16, fp8'],
  ['--kernel', 'fastest', 'kernel must be one of flash, naive'],
  ['--preset', 'v4', '--preset must be one of v32, model1'],
  ['--h-q', '0', '--h-q must be an integer from 1 to 1024'],
  ['--h-q', '-3', '--h-q must be an integer from 1 to 1024'],
  ['--h-q', '1.5', '--h-q must be an integer from 1 to 1024'],
  ['--h-q', 'many', '--h-q must be an integer from 1 to 1024'],
  ['--h-q', '', '--h-q must be an integer from 1 to 1024'],
  ['--h-q', '2000', '--h-q "2000" is not allowed: --h-q must be an integer from 1 to 1024'],
  ['--s-q', '0', '--s-q must be an integer from 1 to 128'],
  ['--s-q', '129', '--s-q must be an integer from 1 to 128'],
  ['--batch', '0', '--batch must be an integer from 1 to 1024'],
  ['--batch', '2000', '--batch must be an integer from 1 to 1024'],
  ['--seqlens', '', '--seqlens must be a comma-separated list of integers >= 0'],
  ['--seqlens', '10,,20', '--seqlens must be a comma-separated list of integers >= 0'],
  ['--seqlens', '-5', '--seqlens must be a comma-separated list of integers >= 0'],
  ['--seqlens', '1.5', '--seqlens must be a comma-separated list of integers >= 0'],
  ['--seqlens', '5000000', '--seqlens: seqlens[0] = 5000000 is not allowed'],
  ['--page-block-size', '0', '--page-block-size must be an integer from 1 to 4096'],
  ['--page-block-size', '5000', '--page-block-size must be an integer from 1 to 4096'],
  ['--topk', '-1', '--topk must be an integer from 0 to 65536'],
  ['--softmax-scale', '0', '--softmax-scale must be a finite number > 0'],
  ['--softmax-scale', 'NaN', '--softmax-scale must be a decimal number'],
  ['--softmax-scale', 'Infinity', '--softmax-scale must be a decimal number'],
  ['--softmax-scale', '-1', '--softmax-scale must be a finite number > 0'],
  ['--d-qk', '6', '--d-qk must be a multiple of 4'],
  ['--d-qk', '4096', '--d-qk must be an integer from 4 to 1024'],
  ['--d-v', '700', '--d-v must be an integer from 4 to 576'],
  ['--d-v', '30', '--d-v must be a multiple of 4'],
  ['--d-rope', '600', '--d-rope must be an integer from 0 to 576'],
  ['--splits', '0', '--splits must be an integer from 1 to 1024'],
  ['--splits', '3000', '--splits must be an integer from 1 to 1024'],
  ['--splits', 'some', '--splits must be an integer from 1 to 1024'],
  ['--tile-n', '0', '--tile-n must be an integer of at least 1 (its largest value depends on the kernel and this device'],
  ['--heads-per-workgroup', '-8', '--heads-per-workgroup must be an integer of at least 1 (its largest'],
  ['--dot-parts', '0', '--dot-parts must be an integer of at least 1 (its largest'],
  ['--keys', 'shared', '--keys must be one of tile, tile-bf16, tile-storage, cache, texture'],
  ['--queries', 'uniform', '--queries must be one of storage, texture'],
  ['--scale-rounding', 'up', '--scale-rounding must be one of pow2, plain'],
  ['--seed', '-1', '--seed must be an integer from 0 to 4294967295'],
  ['--seed', '4294967296', '--seed must be an integer from 0 to 4294967295'],
  ['--distribution', 'uniform', '--distribution must be one of normal, outliers'],
  ['--samples', '0', '--samples must be an integer from 1 to 1000'],
  ['--warmup', '-1', '--warmup must be an integer from 0 to 1000'],
  ['--h-q', '0x10', '--h-q must be an integer from 1 to 1024'],
  ['--h-q', '1e3', '--h-q must be an integer from 1 to 1024'],
  ['--seqlens', '0x40', '--seqlens must be a comma-separated list of integers >= 0'],
  ['--softmax-scale', '0x1', '--softmax-scale must be a decimal number'],
  ['--softmax-scale', '', '--softmax-scale must be a decimal number'],
  ['--shard-mib', '0', '--shard-mib must be a size in MiB above 0'],
  ['--shard-mib', '-4', '--shard-mib must be a size in MiB above 0'],
  ['--shard-mib', '16MiB', '--shard-mib must be a decimal number'],
].map(([flag, value, words]) => ({ name: `run ${flag}=${JSON.stringify(value)}`, args: ['run', `${flag}=${value}`], code: 2, words: [flag, words] }));

/** Flags that clash with each other or with the command. */
const FLAG_COMBINATIONS: Case[] = [
  { name: 'fp8 with a head FlashMLA has no layout for', args: ['run', '--kv', 'fp8', '--d-qk', '68', '--d-nope', '64', '--d-rope', '4', '--d-v', '36'], code: 2, words: ['kv format "fp8" needs a FlashMLA head shape', 'use f32 or bf16'] },
  { name: '--batch and --seqlens of another length', args: ['run', '--batch', '2', '--seqlens', '1,2,3'], code: 2, words: ['--seqlens has 3 values but --batch is 2'] },
  { name: '--d-nope + --d-rope != --d-qk', args: ['run', '--kv', 'f32', '--d-qk', '64', '--d-nope', '40', '--d-rope', '8', '--d-v', '32'], code: 2, words: ['--d-nope', 'dNope + dRope = dQk'] },
  { name: 'a tuning flag the version does not take', args: ['run', '--kernel', 'fused', '--tile-n', '16'], code: 2, words: ['--tile-n 16 is not used by kernel fused (v2)', 'the options it takes are --splits'] },
  { name: '--keys tile-bf16 over an f32 cache (it would be rounded)', args: ['run', '--kernel', 'v4', '--kv', 'f32', '--keys', 'tile-bf16'], code: 2, words: ['keys "tile-bf16" is not allowed for an f32 cache: its keys would be rounded to bf16; use keys tile or cache'] },
  { name: '--keys tile-bf16 over FP8 scales that are not powers of two', args: ['run', '--kernel', 'v4', '--kv', 'fp8', '--scale-rounding', 'plain', '--keys', 'tile-bf16'], code: 2, words: ['keys "tile-bf16" is not allowed for this cache: its fp8-v32 scales are not all powers of two'] },
  { name: '--keys for a version that has no choice of key reads', args: ['run', '--kernel', 'v5', '--keys', 'cache'], code: 2, words: ['--keys cache is not used by kernel subgroups (v5)', 'the options it takes are --heads-per-workgroup, --dot-parts, --splits'] },
  { name: '--queries for a version that reads them from q only', args: ['run', '--kernel', 'v3', '--queries', 'texture'], code: 2, words: ['--queries texture is not used by kernel shared-latent (v3)'] },
  { name: '--splits for the unsplit naive kernel', args: ['run', '--kernel', 'naive', '--splits', '2'], code: 2, words: ['--splits 2 is not used by kernel naive (v1)'] },
  { name: 'bench --tfjs with --ladder', args: ['bench', '--tfjs', '--ladder'], code: 2, words: ['--tfjs is not allowed with --ladder or --full'] },
  { name: 'bench --kv fp4', args: ['bench', '--kv', 'fp4'], code: 2, words: ['--kv "fp4" is not allowed', 'f32, bf16, fp8'] },
  { name: 'bench --heads 0', args: ['bench', '--heads', '0'], code: 2, words: ['--heads', 'integers >= 1'] },
  { name: 'bench --presets v4', args: ['bench', '--ladder', '--presets', 'v32,v4'], code: 2, words: ['--presets "v4" is not allowed', 'v32, model1'] },
  { name: 'an unknown command', args: ['runn'], code: 2, words: ['command "runn" is not allowed', 'info, run, bench'] },
  { name: 'an unknown flag shows the usage', args: ['run', '--heads', '8'], code: 2, words: ["Unknown option '--heads'", 'usage: mla-sandbox'] },
  { name: 'a stray positional argument shows the usage', args: ['run', 'extra'], code: 2, words: ['extra', 'usage: mla-sandbox'] },
  { name: 'a flag without its value', args: ['run', '--h-q'], code: 2, words: ['--h-q', 'usage: mla-sandbox'] },
  { name: 'a negative value without "="', args: ['run', '--h-q', '-3'], code: 2, words: ['--h-q', '--h-q=-XYZ', 'usage: mla-sandbox'] },
  { name: 'bench --warmup -1', args: ['bench', '--ladder', '--warmup=-1'], code: 2, words: ['--warmup "-1" is not allowed', 'an integer from 0 to 1000'] },
  { name: 'bench --gqa --samples', args: ['bench', '--gqa', '--samples', '3'], code: 2, words: ['--samples and --warmup are not used with --gqa'] },
  { name: 'info --samples 0', args: ['info', '--samples', '0'], code: 2, words: ['--samples "0" is not allowed', 'an integer from 1 to 1000'] },
  { name: 'bench --matmul-blocks without --ladder', args: ['bench', '--matmul-blocks', '8'], code: 2, words: ['--matmul-blocks is used with --ladder'] },
  { name: 'bench --ladder --matmul-blocks 64', args: ['bench', '--ladder', '--matmul-blocks', '64'], code: 2, words: ['--matmul-blocks "64" is not allowed', 'one of 8, 16, 32'] },
  { name: 'info --matmul-blocks 12', args: ['info', '--matmul-blocks', '8,12'], code: 2, words: ['--matmul-blocks "12" is not allowed', 'one of 8, 16, 32'] },
  { name: 'a bad MLA_ADAPTER', args: ['info'], env: { MLA_ADAPTER: 'metal' }, code: 2, words: ['MLA_ADAPTER = "metal" is not allowed', 'auto, native, swiftshader, llvmpipe'] },
];

/** Flags that would be ignored next to (or without) your own tensors: each is used or refused. */
const FLAG_USE: Case[] = [
  { name: '--h-q that disagrees with q.npy', args: ['run', ...own, '--h-q', '8'], code: 2, words: ['--h-q 8 disagrees with your tensors', 'h-q 2', 'q.npy'] },
  { name: '--preset model1 with a 576-wide q', args: ['run', ...own, '--preset', 'model1'], code: 2, words: ['--preset model1 disagrees', 'preset v32'] },
  { name: '--seqlens that disagree with seqlens.npy', args: ['run', ...own, '--seqlens', '70,10'], code: 2, words: ['--seqlens 70,10 disagrees', 'seqlens 70,9'] },
  { name: '--batch that disagrees', args: ['run', ...own, '--batch', '3'], code: 2, words: ['--batch 3 disagrees', 'batch 2'] },
  { name: '--s-q that disagrees', args: ['run', ...own, '--s-q', '2'], code: 2, words: ['--s-q 2 disagrees', 's-q 1'] },
  { name: '--d-qk that disagrees', args: ['run', ...own, '--d-qk', '512'], code: 2, words: ['--d-qk 512 disagrees', 'd-qk 576'] },
  { name: '--page-block-size that disagrees', args: ['run', ...own, '--page-block-size', '32'], code: 2, words: ['--page-block-size 32 disagrees', 'page-block-size 64'] },
  { name: '--topk without indices', args: ['run', ...own, '--topk', '16'], code: 2, words: ['--topk 16 disagrees', 'topk 0'] },
  { name: '--sink with your own tensors', args: ['run', ...own, '--sink'], code: 2, words: ['--sink is not used with your own tensors', 'give yours with --attn-sink sink.npy'] },
  { name: '--seed with your own tensors', args: ['run', ...own, '--seed', '3'], code: 2, words: ['--seed is not used with your own tensors', 'generated inputs'] },
  { name: '--distribution with your own tensors', args: ['run', ...own, '--distribution', 'outliers'], code: 2, words: ['--distribution is not used with your own tensors'] },
  { name: '--cache-seqlens without --q', args: ['run', '--cache-seqlens', seqlens], code: 2, words: ['--cache-seqlens is only used with your own tensors'] },
  { name: '--block-table without --q', args: ['run', '--block-table', table], code: 2, words: ['--block-table is only used with your own tensors'] },
  { name: '--indices without --q', args: ['run', '--indices', table], code: 2, words: ['--indices is only used with your own tensors'] },
  { name: '--q without --kv-cache', args: ['run', '--q', q], code: 2, words: ['--q and --kv-cache go together'] },
  { name: '--kv-cache without --q', args: ['run', '--kv-cache', kv], code: 2, words: ['--q and --kv-cache go together'] },
  { name: 'no --cache-seqlens for a dense call', args: ['run', '--q', q, '--kv-cache', kv], code: 2, words: ['--kv-cache needs --cache-seqlens (int32 [b]) for a dense call, or --indices'] },
];

const FILES: Case[] = [
  { name: 'a file that does not exist', args: ['run', ...ownWith({ q: at('missing.npy') })], code: 2, words: ['missing.npy: cannot read', 'ENOENT'] },
  { name: 'a file that is not .npy', args: ['run', ...ownWith({ q: (writeFileSync(at('text.npy'), 'hello'), at('text.npy')) })], code: 2, words: ['text.npy: not a .npy file'] },
  { name: 'a header dimension of -1', args: ['run', ...ownWith({ q: rawNpy('neg.npy', '<f4', '(2, 1, -1, 576)', 0) })], code: 2, words: ['neg.npy', 'dimension "-1"', 'whole number >= 0'] },
  { name: 'a header dimension that is a letter', args: ['run', ...ownWith({ q: rawNpy('letter.npy', '<f4', '(2, 1, x, 576)', 0) })], code: 2, words: ['letter.npy', 'dimension "x"'] },
  { name: 'an unreadable header', args: ['run', ...ownWith({ q: rawNpy('nohdr.npy', '<f4', '[2]', 8) })], code: 2, words: ['nohdr.npy: unreadable .npy header'] },
  { name: 'float64 data', args: ['run', ...ownWith({ q: rawNpy('f64.npy', '<f8', '(2, 1, 2, 576)', 8 * 2304) })], code: 2, words: ['f64.npy: dtype <f8 is not supported', 'float32 (<f4)'] },
  { name: 'big-endian data', args: ['run', ...ownWith({ q: rawNpy('be.npy', '>f4', '(2, 1, 2, 576)', 4 * 2304) })], code: 2, words: ['be.npy: dtype >f4 is not supported'] },
  { name: 'Fortran order', args: ['run', ...ownWith({ q: rawNpy('fort.npy', '<f4', '(2, 1, 2, 576)', 4 * 2304, 'True') })], code: 2, words: ['fort.npy: Fortran-order arrays are not supported'] },
  { name: 'data shorter than the header says', args: ['run', ...ownWith({ q: rawNpy('short.npy', '<f4', '(2, 1, 2, 576)', 100) })], code: 2, words: ['short.npy: file holds 100 data bytes', 'needs 9216'] },
  { name: 'q of rank 3', args: ['run', ...ownWith({ q: npy('q3.npy', { dtype: 'float32', shape: [2, 2, 576], data: inp.q }) })], code: 2, words: ['q3.npy: expected float32 [?, ?, ?, ?] (b, s_q, h_q, d_qk), found float32 [2, 2, 576]'] },
  { name: 'q as int32', args: ['run', ...ownWith({ q: npy('qi.npy', { dtype: 'int32', shape: [2, 1, 2, 576], data: new Int32Array(2304) }) })], code: 2, words: ['qi.npy: expected float32', 'found int32'] },
  { name: 'a cache of another head width', args: ['run', ...ownWith({ kv: npy('kv512.npy', { dtype: 'float32', shape: [blocks, 64, 1, 512], data: new Float32Array(blocks * 64 * 512) }) })], code: 2, words: ['kv512.npy: expected float32 [', '576] (num_blocks, page, 1, d_qk)', 'found float32 ['] },
  { name: 'cache seqlens of another batch', args: ['run', ...ownWith({ seqlens: npy('s3.npy', { dtype: 'int32', shape: [3], data: Int32Array.from([1, 2, 3]) }) })], code: 2, words: ['s3.npy: expected int32 [2] (b)', 'found int32 [3]'] },
  { name: 'cache seqlens as float32', args: ['run', ...ownWith({ seqlens: npy('sf.npy', { dtype: 'float32', shape: [2], data: Float32Array.from([70, 9]) }) })], code: 2, words: ['sf.npy: expected int32 [2]', 'found float32'] },
  { name: 'a negative seqlen', args: ['run', ...ownWith({ seqlens: npy('sneg.npy', { dtype: 'int32', shape: [2], data: Int32Array.from([70, -1]) }) })], code: 2, words: ['sneg.npy: seqlens[1] = -1 is not allowed'] },
  { name: 'a seqlen past the block-table row', args: ['run', ...ownWith({ seqlens: npy('sbig.npy', { dtype: 'int32', shape: [2], data: Int32Array.from([70, 900]) }) })], code: 2, words: ['sbig.npy[1] = 900 is more than the 128 tokens its block-table row holds'] },
  { name: 'a block number past the cache', args: ['run', ...ownWith({ table: npy('btbad.npy', { dtype: 'int32', shape: [2, 2], data: Int32Array.from([0, 99, 1, 0]) }) })], code: 2, words: ['btbad.npy[0][1] = 99 is not allowed', `from 0 to ${blocks - 1}`] },
  { name: 'no block table and too few blocks', args: ['run', '--q', q, '--kv-cache', npy('kv1.npy', { dtype: 'float32', shape: [1, 64, 1, 576], data: new Float32Array(64 * 576) }), '--cache-seqlens', seqlens], code: 2, words: ['--block-table: none given', 'pass --block-table'] },
  { name: 'a uint8 cache with --kv f32', args: ['run', ...ownWith({ kv: npy('kv8.npy', { dtype: 'uint8', shape: [blocks, 64, 1, 656], data: fp8Bytes.subarray(0, blocks * 64 * 656) }) }), '--kv', 'f32'], code: 2, words: ['kv8.npy: a uint8 cache holds FP8 records: use --kv fp8'] },
  { name: 'uint8 records of the wrong size', args: ['run', ...ownWith({ kv: npy('kv8w.npy', { dtype: 'uint8', shape: [blocks, 64, 1, 584], data: new Uint8Array(blocks * 64 * 584) }) }), '--kv', 'fp8'], code: 2, words: ['kv8w.npy: expected uint8', '656] (num_blocks, page, 1, fp8-v32 record bytes)'] },
  { name: 'a sink of the wrong length', args: ['run', ...own, '--attn-sink', npy('sink3.npy', { dtype: 'float32', shape: [3], data: new Float32Array(3) })], code: 2, words: ['sink3.npy: expected float32 [2] (h_q), found float32 [3]'] },
  { name: 'a NaN sink (+inf and -inf are FlashMLA\'s, NaN is not)', args: ['run', ...own, '--attn-sink', npy('sinknan.npy', { dtype: 'float32', shape: [2], data: Float32Array.of(Infinity, NaN) })], code: 2, words: ['sinknan.npy holds NaN at [1]', 'non-finite inputs are refused'] },
  { name: '--topk-length without indices', args: ['run', ...own, '--topk-length', npy('tl.npy', { dtype: 'int32', shape: [2], data: Int32Array.of(1, 1) })], code: 2, words: ['--topk-length is only used by a sparse call: give --indices as well'] },
  {
    name: 'a topk length past topk', code: 2, words: ['tl9.npy[1] = 9 is not allowed: a topk length must be from 0 to topk (8'],
    args: ['run', ...own, '--indices', npy('idx8.npy', { dtype: 'int32', shape: [2, 1, 8], data: new Int32Array(16) }), '--topk-length', npy('tl9.npy', { dtype: 'int32', shape: [2], data: Int32Array.of(3, 9) })],
  },
  { name: '--attn-sink without your own tensors', args: ['run', '--attn-sink', npy('sink2.npy', { dtype: 'float32', shape: [2], data: new Float32Array(2) })], code: 2, words: ['--attn-sink is only used with your own tensors'] },
  { name: 'extra indices without an extra cache', args: ['run', ...own, '--indices', npy('idx8b.npy', { dtype: 'int32', shape: [2, 1, 8], data: new Int32Array(16) }), '--extra-indices', npy('xi.npy', { dtype: 'int32', shape: [2, 1, 4], data: new Int32Array(8) })], code: 2, words: ['xi.npy belongs to an extra cache: give --extra-kv-cache as well'] },
  { name: 'an extra cache for a dense call', args: ['run', ...own, '--extra-kv-cache', kv], code: 2, words: ['is for a sparse call: give --indices as well'] },
  {
    name: 'an extra cache of FP8 records next to a float32 main cache', code: 2, words: ['kv8x.npy is uint8 and', 'kv.npy is not: give both caches as FP8 records (uint8) or both as float32 rows'],
    args: ['run', ...own, '--kv', 'fp8', '--indices', npy('idx8c.npy', { dtype: 'int32', shape: [2, 1, 8], data: new Int32Array(16) }), '--extra-kv-cache', npy('kv8x.npy', { dtype: 'uint8', shape: [1, 64, 1, 656], data: fp8Bytes.subarray(0, 64 * 656) }), '--extra-indices', npy('xi2.npy', { dtype: 'int32', shape: [2, 1, 4], data: new Int32Array(8) })],
  },
  { name: 'indices of the wrong rank', args: ['run', ...own, '--indices', npy('idx2.npy', { dtype: 'int32', shape: [2, 4], data: new Int32Array(8) })], code: 2, words: ['idx2.npy: expected int32 [2, 1, ?] (b, s_q, topk)'] },
];

const NON_FINITE: Case[] = [
  { name: 'NaN in q', args: ['run', ...ownWith({ q: npy('qnan.npy', { dtype: 'float32', shape: [2, 1, 2, 576], data: withValue(inp.q, 576 + 5, NaN) }) })], code: 2, words: ['qnan.npy holds NaN at [0, 0, 1, 5]', 'non-finite inputs are refused'] },
  { name: 'inf in q', args: ['run', ...ownWith({ q: npy('qinf.npy', { dtype: 'float32', shape: [2, 1, 2, 576], data: withValue(withValue(inp.q, 3, Infinity), 7, -Infinity) }) })], code: 2, words: ['qinf.npy holds inf at [0, 0, 0, 3] and 1 more non-finite values'] },
  { name: 'NaN in a cache row a request reads', args: ['run', ...ownWith({ kv: npy('kvnan.npy', { dtype: 'float32', shape: [blocks, 64, 1, 576], data: withValue(kvClean, firstSlot * 576 + 2, NaN) }) })], code: 2, words: [`kvnan.npy holds NaN at [${inp.cache.blockTable[0]}, 0, 0, 2]`] },
  { name: 'values whose scores pass what f32 carries', args: ['run', ...ownWith({ q: npy('qbig.npy', { dtype: 'float32', shape: [2, 1, 2, 576], data: inp.q.map((x) => x * 1e36) }) }), '--kv', 'f32'], code: 2, words: ['scores can reach', "beyond what f32 carries"] },
  { name: 'an FP8 record whose scale byte is NaN (0xff)', args: ['run', ...ownWith({ kv: npy('kv8nan.npy', { dtype: 'uint8', shape: [blocks, 64, 1, 656], data: (() => { const b = fp8Bytes.slice(0, blocks * 64 * 656); b[firstSlot * 656 + 512] = 0xff; b[firstSlot * 656 + 513] = 0xff; b[firstSlot * 656 + 514] = 0xff; b[firstSlot * 656 + 515] = 0x7f; return b; })() }) }), '--kv', 'fp8'], code: 2, words: ['kv8nan.npy holds NaN'] },
];

const OUTPUTS: Case[] = [
  { name: '--out naming an input', args: ['run', ...own, '--out', q], code: 2, words: ['--out', 'is the same file as --q (an input, which is never overwritten)'] },
  { name: '--lse naming the cache', args: ['run', ...own, '--lse', kv], code: 2, words: ['--lse', 'same file as --kv-cache'] },
  { name: '--out equal to --lse', args: ['run', '--out', at('o.npy'), '--lse', at('o.npy')], code: 2, words: ['--lse', 'is the same file as --out'] },
  { name: '--out through another spelling of the same path', args: ['run', ...own, '--out', join(dir, '.', 'q.npy')], code: 2, words: ['same file as --q'] },
  { name: '--out in a folder that does not exist', args: ['run', '--out', at('nope/out.npy')], code: 2, words: ['--out', 'the folder', 'does not exist'] },
  { name: '--out naming a folder', args: ['run', '--out', (mkdirSync(at('afolder'), { recursive: true }), at('afolder'))], code: 2, words: ['--out', 'is a folder or a device, not a file'] },
  { name: '--out empty', args: ['run', '--out', ''], code: 2, words: ['--out "" is not allowed'] },
  { name: 'bench --out in a folder that does not exist', args: ['bench', '--ladder', '--out', at('nope/ladder.md')], code: 2, words: ['--out', 'does not exist'] },
  { name: 'bench --json-out equal to --out', args: ['bench', '--out', at('b.md'), '--json-out', at('b.md')], code: 2, words: ['--json-out', 'same file as --out'] },
];

const SIZES: Case[] = [
  { name: 'four million-token f32 requests for 1024 heads', args: ['run', '--batch', '4', '--seqlens', '1000000', '--h-q', '1024', '--kv', 'f32'], code: 2, words: [/this shape needs about [\d.]+ [GT]iB of memory|needs \d+ shards of at most|binds \d+ storage buffers, over this device's maxStorageBuffersPerShaderStage|cache of this shape is [\d.]+ [GT]iB \(\d+ pages of 64 tokens\), over the [\d.]+ GiB .*: at most about \d+ cached tokens fit/, 'make'] },
  { name: '1024 requests of a million tokens', args: ['run', '--batch', '1024', '--seqlens', '1048576'], code: 2, words: [/needs about [\d.]+ [GT]iB of memory|maxStorageBufferBindingSize|cache of this shape is [\d.]+ [GT]iB \(\d+ pages of 64 tokens\), over the [\d.]+ GiB .*: at most about \d+ cached tokens fit/] },
  { name: 'a cache over what the shards can hold', args: ['run', '--batch', '4', '--seqlens', '1048576', '--kv', 'f32', '--h-q', '1'], code: 2, words: [/needs \d+ shards of at most this device's maxStorageBufferBindingSize\/maxBufferSize .*; the kernels bind at most 12|binds \d+ storage buffers, over this device's maxStorageBuffersPerShaderStage of \d+: make the cache smaller|[GT]iB of memory|cache of this shape is [\d.]+ [GT]iB \(\d+ pages of 64 tokens\), over the [\d.]+ GiB .*: at most about \d+ cached tokens fit/] },
  // Issue 20: this allocated 4.6 GB before any check and died with "Invalid typed array length".
  { name: 'a 2M-token f32 cache: refused before it is allocated, naming its bytes, the limit and what fits', args: ['run', '--kv', 'f32', '--h-q', '2', '--seqlens', '2000000'], code: 2, words: [/the f32 cache of (this shape is 4\.29 GiB \(31252 pages of 64 tokens\), over the 4\.00 GiB one array holds|31252 pages \(4\.29 GiB\) needs \d+ shards)/, /at most about \d+ cached tokens fit/] },
  { name: 'a 4M-token bf16 cache: refused the same way', args: ['run', '--kv', 'bf16', '--h-q', '2', '--seqlens', '4000000'], code: 2, words: [/the bf16 cache of (this shape is 4\.29 GiB \(62502 pages of 64 tokens\), over the 4\.00 GiB one array holds|62502 pages \(4\.29 GiB\) needs \d+ shards)/, /at most about \d+ cached tokens fit/] },
  { name: 'a shard cap below one page', args: ['run', '--shard-mib', '0.01'], code: 2, words: ['one page of the fp8-v32 cache is 41.0 KiB (64 tokens), over the shard cap (10.2 KiB)', '--page-block-size smaller'] },
  { name: 'a shard cap that makes too many shards', args: ['run', '--shard-mib', '0.05', '--seqlens', '1024'], code: 2, words: ['needs 18 shards of at most the shard cap', 'raise the cap'] },
];

const MEMORY: Case[] = [
  { name: 'memory --contexts=0', args: ['memory', '--contexts=0'], code: 2, words: ['--contexts 0 is not allowed', 'from 1 to 16777216'] },
  { name: 'memory --contexts=abc', args: ['memory', '--contexts=abc'], code: 2, words: ['--contexts "abc" is not allowed', 'comma-separated list of integers'] },
  { name: 'memory --contexts=99999999', args: ['memory', '--contexts=99999999'], code: 2, words: ['--contexts 99999999 is not allowed'] },
  { name: 'memory --layers=0', args: ['memory', '--layers=0'], code: 2, words: ['--layers "0" is not allowed', 'from 1 to 1024'] },
  { name: 'memory --groups above --heads', args: ['memory', '--heads=8', '--groups=16'], code: 2, words: ['--groups 16 is not allowed', 'from 1 to 8'] },
  { name: 'memory --element=fp4', args: ['memory', '--element=fp4'], code: 2, words: ['--element "fp4" is not allowed', 'f32, bf16, fp8, int8'] },
  { name: 'memory --kv (a flag of run)', args: ['memory', '--kv', 'fp8'], code: 2, words: ["Unknown option '--kv'", 'usage: mla-sandbox'] },
  { name: 'memory --json', args: ['memory', '--json', '--contexts', '1048576'], code: 0, words: [`"bytesPerTokenPerLayer": 656`, `${656 * 61 * 2 ** 20}`] },
];

const MESSAGES: Case[] = [
  { name: 'run --help', args: ['run', '--help'], code: 0, words: ['usage: mla-sandbox', '--kernel'] },
  { name: 'bench -h', args: ['bench', '-h'], code: 0, words: ['usage: mla-sandbox', '--ladder'] },
  { name: 'info --help', args: ['info', '--help'], code: 0, words: ['usage: mla-sandbox'] },
  { name: 'no command', args: [], code: 2, words: ['usage: mla-sandbox'] },
];

const noMarkers = at('no-markers.wgsl');
writeFileSync(noMarkers, '// a WGSL file without the exercise\'s markers\n');
const mine = at('mine.wgsl');
writeFileSync(mine, '// the learner\'s own work\n');
const EXERCISE: Case[] = [
  { name: 'exercise (no subcommand)', args: ['exercise'], code: 2, words: ['mla-sandbox exercise: write a piece of a kernel yourself'] },
  { name: 'exercise frob', args: ['exercise', 'frob'], code: 2, words: ['exercise "frob" is not allowed', 'list, show N or check N --file F'] },
  { name: 'exercise list 3', args: ['exercise', 'list', '3'], code: 2, words: ['exercise list takes no exercise number, got 3'] },
  { name: 'exercise show (no number)', args: ['exercise', 'show'], code: 2, words: ['exercise show takes one exercise number', 'got none'] },
  { name: 'exercise show 0', args: ['exercise', 'show', '0'], code: 2, words: ['exercise show "0" is not allowed', 'a number from 1 to'] },
  { name: 'exercise show x', args: ['exercise', 'show', 'x'], code: 2, words: ['exercise show "x" is not allowed'] },
  { name: 'exercise show 1 --hints 9', args: ['exercise', 'show', '1', '--hints', '9'], code: 2, words: ['--hints "9" is not allowed', 'from 0 to 3'] },
  { name: 'exercise show 1 --file (a flag of check)', args: ['exercise', 'show', '1', '--file', mine], code: 2, words: ['--file is not used by exercise show', '--hints, --starter'] },
  { name: 'exercise show 1 --starter over an existing file', args: ['exercise', 'show', '1', '--starter', mine], code: 2, words: [`--starter ${mine} is not allowed: the file exists, and your work is never overwritten`] },
  { name: 'exercise check 1 (no --file)', args: ['exercise', 'check', '1'], code: 2, words: ['exercise check needs --file my.wgsl', 'exercise show 1 --starter my.wgsl'] },
  { name: 'exercise check 1 --hints 1 (a flag of show)', args: ['exercise', 'check', '1', '--hints', '1', '--file', mine], code: 2, words: ['--hints is not used by exercise check'] },
  { name: 'exercise check 1 --file missing', args: ['exercise', 'check', '1', '--file', at('absent.wgsl')], code: 2, words: ['absent.wgsl: no such file', '--starter'] },
  { name: 'exercise check 1 --file a folder', args: ['exercise', 'check', '1', '--file', dir], code: 2, words: ['is not allowed: it is a folder or a device, not a file'] },
  { name: 'exercise check 1 --file without the markers', args: ['exercise', 'check', '1', '--file', noMarkers], code: 2, words: [`--file ${noMarkers} must hold the marker lines "// ---- exercise scores: write from here ----"`] },
];

/** Cases that end before a GPU is needed. */
const EARLY = [...FLAG_VALUES, ...FLAG_COMBINATIONS, ...FLAG_USE, ...FILES, ...NON_FINITE, ...OUTPUTS, ...MEMORY, ...MESSAGES, ...EXERCISE];

const results = new Map<string, CliResult>();

beforeAll(async () => {
  // Four at a time: each is a short Node process.
  const queue = [...EARLY];
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let c = queue.shift(); c; c = queue.shift()) results.set(c.name, await cli(c.args, c.env));
  }));
}, 300_000);

function expectCase(c: Case, r: CliResult): void {
  const text = `${r.stdout}\n${r.stderr}`;
  expect(r.code, `${c.name}: ${text}`).toBe(c.code);
  for (const w of c.words) {
    if (typeof w === 'string') expect(text, c.name).toContain(w);
    else expect(text, c.name).toMatch(w);
  }
  // Never a stack trace or a runtime's raw words.
  expect(text, c.name).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n|TypeError|RangeError|undefined:|Invalid typed array length/);
  // Never a limit no one can use (Number.MAX_SAFE_INTEGER).
  expect(text, c.name).not.toContain(String(Number.MAX_SAFE_INTEGER));
}

describe('bad-input catalogue', () => {
  it('holds at least 80 cases', () => {
    expect(EARLY.length + SIZES.length).toBeGreaterThanOrEqual(80);
  });

  describe.each([
    ['flag values', FLAG_VALUES], ['flag combinations', FLAG_COMBINATIONS], ['flags next to your own tensors', FLAG_USE],
    ['files', FILES], ['non-finite and extreme values', NON_FINITE], ['outputs', OUTPUTS], ['memory', MEMORY], ['messages', MESSAGES],
    ['exercises', EXERCISE],
  ] as const)('%s', (_, cases) => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => expectCase(c, results.get(c.name)!));
  });

  it('an input named as an output is left as it was; so is a learner\'s file named as a starter', () => {
    expect(readFileSync(q)).toEqual(Buffer.from(encodeNpy({ dtype: 'float32', shape: [2, 1, 2, 576], data: inp.q })));
    expect(readFileSync(mine, 'utf8')).toBe('// the learner\'s own work\n');
  });

  describe.skipIf(!gpu)('sizes (refused before anything is allocated)', () => {
    it.each(SIZES.map((c) => [c.name, c] as const))('%s', async (_name, c) => expectCase(c, await cli(c.args, c.env)));
  });
});

/** Legal but strange inputs: the answer must be the reference's. */
describe.skipIf(!gpu)('legal but strange inputs give the reference\'s answer', () => {
  const pass = async (args: string[]) => {
    const r = await cli(['run', '--samples', '1', '--warmup', '0', '--json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.check.pass).toBe(true);
    return report;
  };

  it('every sparse index invalid (lse +inf, out 0)', async () => {
    const idx = npy('allbad.npy', { dtype: 'int32', shape: [2, 1, 8], data: new Int32Array(16).fill(-1) });
    await pass([...own, '--indices', idx, '--kv', 'f32']);
  });

  it('dense requests of no cached tokens and a causal one shorter than s_q (FlashMLA\'s zero-length corner cases): the rows that see no key give out 0 and lse +inf', async () => {
    const report = await pass(['--seqlens', '0,300,1', '--s-q', '2', '--h-q', '4', '--kv', 'bf16']);
    // request 0: both tokens; request 2 (1 key, s_q 2): token 0 sees none. 3 rows x 4 heads.
    expect(report.check.nonFinite).toBe(12);
    await pass(['--seqlens', '0,0', '--s-q', '2', '--h-q', '4', '--kv', 'fp8', '--no-causal']);
  });

  it('a query of zeros (uniform attention)', async () => {
    await pass(ownWith({ q: npy('qzero.npy', { dtype: 'float32', shape: [2, 1, 2, 576], data: new Float32Array(2304) }) }));
  });

  it('a cache of zeros', async () => {
    await pass([...ownWith({ kv: npy('kvzero.npy', { dtype: 'float32', shape: [blocks, 64, 1, 576], data: new Float32Array(blocks * 64 * 576) }) }), '--kv', 'bf16']);
  });

  it('NaN in cache slots no request reads is fine', async () => {
    await pass([...ownWith({ kv: npy('kvnanunused.npy', { dtype: 'float32', shape: [blocks, 64, 1, 576], data: withValue(kvClean, unusedSlot * 576, NaN) }) }), '--kv', 'f32']);
  });

  it('an empty request (seqlen 0) next to a full one, sparse and non-causal', async () => {
    await pass(['--seqlens', '0,40', '--topk', '16', '--h-q', '4', '--no-causal', '--kv', 'fp8']);
  });

  it('a shape flag that agrees with your tensors is accepted', async () => {
    await pass([...own, '--h-q', '2', '--preset', 'v32', '--seqlens', '70,9']);
  });
});
