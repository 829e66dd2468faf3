/**
 * `mla-sandbox claims`: the article's nine claims with the sandbox's answers,
 * computed at once; `--measure` adds the runs on this device (each checked).
 */
import { parseArgs } from 'node:util';
import { openNodeDevice } from '../gpu/node-device';
import { describeAdapter, isSoftwareAdapter } from '../gpu/device';
import { type ClaimRow, type DeviceFacts, claimRows } from '../claims/claims';
import { CLI_MEASURE, type MeasuredFacts, measureClaims } from '../claims/measure';
import { type FlagValues, intFlag } from '../run/run-options';
import { SHAPE_LIMITS } from '../mla/shape';

export const CLAIMS_USAGE = `mla-sandbox claims: the article's claims, answered from the project's tables and, with --measure, from runs on this device

  --measure          run the measured rows now (each run checked against the CPU reference; minutes on a software adapter)
  --long-tokens N    the long decode's context for claim 6 (default ${CLI_MEASURE.longTokens})
  --json`;

function print(line = ''): void {
  process.stdout.write(line + '\n');
}

export function describeClaims(rows: readonly ClaimRow[]): string[] {
  return rows.flatMap((r) => [
    `${r.id}. ${r.claim}`,
    `   verdict  ${r.verdict}${r.pending ? ' (measured part: run with --measure)' : ''}`,
    `   answer   ${r.answer}`,
    `   how      ${r.how}${r.why ? `; ${r.why}` : ''}`,
    `   see      ${r.see}`,
  ]);
}

export async function runClaimsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: { measure: { type: 'boolean', default: false }, 'long-tokens': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { print(CLAIMS_USAGE); return 0; }
  const v = values as FlagValues;
  if (v['long-tokens'] !== undefined && !v.measure) throw new Error('--long-tokens is only used with --measure');
  const longTokens = intFlag('long-tokens', v['long-tokens'], 1, SHAPE_LIMITS.maxSeqlen) ?? CLI_MEASURE.longTokens;
  let measured: MeasuredFacts | undefined;
  let device: DeviceFacts | undefined;
  if (v.measure) {
    const ctx = await openNodeDevice();
    device = { adapter: describeAdapter(ctx.adapter), software: isSoftwareAdapter(ctx.adapter), features: ctx.features };
    measured = await measureClaims(ctx, { ...CLI_MEASURE, longTokens }, (done, total, label) => {
      if (!v.json && done < total) process.stderr.write(`claims: run ${done + 1} of ${total}: ${label}\n`);
    });
  }
  const rows = claimRows(measured, device);
  const pass = measured ? measured.runs.every((r) => r.pass) : true;
  if (v.json) print(JSON.stringify({ device, rows, runs: measured?.runs, pass }, null, 2));
  else {
    if (device) print(`device   ${device.adapter}`);
    describeClaims(rows).forEach((l) => print(l));
    if (measured) print(`runs     ${measured.runs.length}, ${pass ? 'every one checked and passing' : `FAILED: ${measured.runs.filter((r) => !r.pass).map((r) => r.label).join('; ')}`}`);
  }
  return pass ? 0 : 1;
}
