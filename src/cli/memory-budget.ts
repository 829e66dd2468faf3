/** What a command-line run may hold in host memory: half of what is free now. */
import { freemem } from 'node:os';
import type { MemoryBudget } from '../run/run-options';

export function cliMemoryBudget(): MemoryBudget {
  return { bytes: Math.floor(freemem() / 2), where: 'this machine can spare (half its free memory)' };
}
