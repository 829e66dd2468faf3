/** `mla-sandbox memory`: the KV-memory calculator as a table or JSON (no GPU needed). */
import { parseArgs } from 'node:util';
import { fp8Claims, memoryMarkdown, memoryRows, memorySpecFromFlags } from '../memory/kv-memory';

export function runMemory(argv: string[], usage: string): number {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      contexts: { type: 'string' }, layers: { type: 'string' }, heads: { type: 'string' }, groups: { type: 'string' },
      'd-k': { type: 'string' }, 'd-v': { type: 'string' }, element: { type: 'string' }, json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { process.stdout.write(`${usage}\n`); return 0; }
  const spec = memorySpecFromFlags(values);
  const rows = memoryRows(spec);
  if (values.json) process.stdout.write(`${JSON.stringify({ spec, rows, fp8Claims: fp8Claims() }, null, 2)}\n`);
  else process.stdout.write(memoryMarkdown(spec, rows));
  return 0;
}
