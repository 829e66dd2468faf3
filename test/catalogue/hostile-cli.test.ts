/**
 * The larger hostile-input catalogue, kept apart from `npm test` (run it with
 * `npm run test:catalogue`): every value flag of `run`, `bench` and `memory` with a set
 * of values that are not what the flag takes, and every way of cutting a
 * .npy file short, each run as its own process against the built CLI.
 *
 * Each case must end in one of two ways: refused (exit 2) with a message
 * naming the flag or file and saying what is allowed; nothing ran. Counted
 * and printed: silent (it ran anyway), crash (a stack trace or a runtime's
 * own words), hang (no answer in 60 s). All three must be 0.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHAPE_FLAGS } from '../../src/run/run-options';
import { encodeNpy } from '../../src/run/npy';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'mla-sandbox.js');
const HANG_MS = 60_000;

interface Outcome { code: number | 'hang'; text: string }

function cli(args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: HANG_MS, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const killed = err && (err as { killed?: boolean }).killed;
      resolve({ code: killed ? 'hang' : err ? (typeof err.code === 'number' ? err.code : 1) : 0, text: `${stdout}\n${stderr}` });
    });
  });
}

/** Values no flag of these kinds takes. */
const NOT_AN_INTEGER = ['', ' ', 'abc', '1.5', '1e3', '0x10', ' 7', '7 ', '+7', 'NaN', 'Infinity', '1e999', '9'.repeat(400), '\u0663', '1,2', '--', '"5"'];
const NOT_A_NUMBER = ['', ' ', 'abc', '0x1', 'NaN', 'Infinity', '-Infinity', '1e999', '1,5', '--', '\u0663'];
const NOT_A_CHOICE = ['', ' ', 'ABC', 'fp8 ', ' v32', 'f32,fp8', 'none', '\u00e9', 'x'.repeat(400)];
/** bench's --presets and --kv take a list of choices (spaces around a name are trimmed). */
const NOT_A_CHOICE_LIST = ['', ' ', ',', 'ABC', 'none', 'fp8,,f32', 'fp8;f32', 'fp8 f32', '\u00e9', 'x'.repeat(400)];
const NOT_A_LIST = ['', ',', '1,', ',1', '1,,2', 'a,b', '1;2', '1 2', '0x10', '1.5', '-1', '1e3', '9'.repeat(400)];

const CHOICE_FLAGS = ['preset', 'kv', 'kernel', 'scale-rounding', 'distribution'];
/** Every other value flag of run takes an integer. */
const INTEGER_FLAGS = Object.entries(SHAPE_FLAGS).filter(([f, spec]) => spec.type === 'string' && ![...CHOICE_FLAGS, 'seqlens', 'softmax-scale', 'shard-mib', 'splits'].includes(f)).map(([f]) => f);

interface Case { readonly name: string; readonly args: readonly string[]; readonly names: readonly string[] }

const runCases: Case[] = [
  ...INTEGER_FLAGS.flatMap((f) => NOT_AN_INTEGER.map((v) => ({ name: `run --${f}=${JSON.stringify(v)}`, args: ['run', `--${f}=${v}`], names: [`--${f}`] }))),
  ...NOT_AN_INTEGER.filter((v) => v !== 'auto').map((v) => ({ name: `run --splits=${JSON.stringify(v)}`, args: ['run', `--splits=${v}`], names: ['--splits'] })),
  ...['softmax-scale', 'shard-mib'].flatMap((f) => NOT_A_NUMBER.map((v) => ({ name: `run --${f}=${JSON.stringify(v)}`, args: ['run', `--${f}=${v}`], names: [`--${f}`] }))),
  ...CHOICE_FLAGS.flatMap((f) => NOT_A_CHOICE.map((v) => ({ name: `run --${f}=${JSON.stringify(v)}`, args: ['run', `--${f}=${v}`], names: [`--${f}`] }))),
  ...NOT_A_LIST.map((v) => ({ name: `run --seqlens=${JSON.stringify(v)}`, args: ['run', `--seqlens=${v}`], names: ['--seqlens'] })),
  ...['presets', 'kv'].flatMap((f) => NOT_A_CHOICE_LIST.map((v) => ({ name: `bench --${f}=${JSON.stringify(v)}`, args: ['bench', `--${f}=${v}`], names: [`--${f}`] }))),
  ...['seqlens', 'heads'].flatMap((f) => NOT_A_LIST.map((v) => ({ name: `bench --${f}=${JSON.stringify(v)}`, args: ['bench', `--${f}=${v}`], names: [`--${f}`] }))),
  ...['layers', 'heads', 'groups', 'd-k', 'd-v'].flatMap((f) => NOT_AN_INTEGER.map((v) => ({ name: `memory --${f}=${JSON.stringify(v)}`, args: ['memory', `--${f}=${v}`], names: [`--${f}`] }))),
  ...NOT_A_LIST.map((v) => ({ name: `memory --contexts=${JSON.stringify(v)}`, args: ['memory', `--contexts=${v}`], names: ['--contexts'] })),
  ...NOT_A_CHOICE.map((v) => ({ name: `memory --element=${JSON.stringify(v)}`, args: ['memory', `--element=${v}`], names: ['--element'] })),
];

// Every prefix of a valid q.npy shorter than the file, at 8-byte steps and every byte of the header.
const dir = mkdtempSync(join(tmpdir(), 'mla-hostile-'));
const q = encodeNpy({ dtype: 'float32', shape: [1, 1, 2, 576], data: new Float32Array(1152).fill(0.5) });
const kv = join(dir, 'kv.npy');
writeFileSync(kv, encodeNpy({ dtype: 'float32', shape: [1, 64, 1, 576], data: new Float32Array(64 * 576) }));
const seqlens = join(dir, 's.npy');
writeFileSync(seqlens, encodeNpy({ dtype: 'int32', shape: [1], data: Int32Array.from([10]) }));
const cuts = [...Array.from({ length: 128 }, (_, k) => k), ...Array.from({ length: 40 }, (_, k) => 128 + 97 * k)].filter((n) => n < q.length);
const fileCases: Case[] = cuts.map((n) => {
  const path = join(dir, `q-cut-${n}.npy`);
  writeFileSync(path, q.subarray(0, n));
  return { name: `q.npy cut to ${n} bytes`, args: ['run', '--q', path, '--kv-cache', kv, '--cache-seqlens', seqlens], names: [path] };
});

const CASES = [...runCases, ...fileCases];

describe('hostile CLI catalogue', () => {
  it(`${CASES.length} cases: 0 silent, 0 crash, 0 hang, every message naming what is wrong`, async () => {
    const queue = [...CASES];
    const found = { refused: 0, silent: [] as string[], crash: [] as string[], hang: [] as string[], unnamed: [] as string[] };
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const r = await cli(c.args);
        if (r.code === 'hang') found.hang.push(c.name);
        else if (/\n\s+at .+:\d+:\d+\)?\n|TypeError|RangeError|ReferenceError|undefined:|Invalid typed array length/.test(r.text)) found.crash.push(`${c.name}: ${r.text.trim().slice(0, 200)}`);
        else if (r.code !== 2) found.silent.push(`${c.name} (exit ${r.code})`);
        else if (!c.names.some((n) => r.text.includes(n)) || !/not allowed|must be|expected|cannot|not a \.npy|unreadable|holds|needs/.test(r.text)) found.unnamed.push(`${c.name}: ${r.text.trim().slice(0, 200)}`);
        else found.refused++;
      }
    }));
    process.stderr.write(`[hostile catalogue] ${CASES.length} cases: ${found.refused} refused by name, ${found.silent.length} silent, ${found.crash.length} crash, ${found.hang.length} hang, ${found.unnamed.length} unclear\n`);
    expect(found.silent).toEqual([]);
    expect(found.crash).toEqual([]);
    expect(found.hang).toEqual([]);
    expect(found.unnamed).toEqual([]);
  }, 3_600_000);
});
