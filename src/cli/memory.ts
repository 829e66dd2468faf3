/** `mla-sandbox memory`: the KV-memory calculator as a table or JSON (no GPU needed). */
import { parseArgs } from 'node:util';
import { DEFAULT_MEMORY, ELEMENT_BYTES, type ElementType, type MemorySpec, fp8Claims, memoryMarkdown, memoryRows } from '../memory/kv-memory';
import { intFlag, intList, oneOf } from '../run-options';

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
  const d = DEFAULT_MEMORY;
  const spec: MemorySpec = {
    contexts: intList('contexts', values.contexts) ?? d.contexts,
    layers: intFlag('layers', values.layers, 1, 1024) ?? d.layers,
    mha: {
      heads: intFlag('heads', values.heads, 1, 1024) ?? d.mha.heads,
      groups: intFlag('groups', values.groups, 1, 1024) ?? d.mha.groups,
      dK: intFlag('d-k', values['d-k'], 1, 1024) ?? d.mha.dK,
      dV: intFlag('d-v', values['d-v'], 1, 1024) ?? d.mha.dV,
      element: values.element === undefined ? d.mha.element : oneOf<ElementType>('element', values.element, Object.keys(ELEMENT_BYTES) as ElementType[]),
    },
  };
  const rows = memoryRows(spec);
  if (values.json) process.stdout.write(`${JSON.stringify({ spec, rows, fp8Claims: fp8Claims() }, null, 2)}\n`);
  else process.stdout.write(memoryMarkdown(spec, rows));
  return 0;
}
