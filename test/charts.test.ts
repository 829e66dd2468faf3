/** The page's chart helpers that need no canvas: which log-axis ticks get a label. */
import { describe, expect, it } from 'vitest';
import { logTickLabel } from '../src/page/charts';

describe('logTickLabel', () => {
  it('labels 1, 2 and 5 of each decade and leaves the other ticks blank, so labels do not crowd', () => {
    const ticks = [0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 9.58, 10, 20, 30, 40, 50, 70, 80, 90, 100, 1000, 0.002, 0];
    expect(ticks.map(logTickLabel)).toEqual(['0.1', '0.2', '', '0.5', '1', '2', '', '5', '', '10', '20', '', '', '50', '', '', '', '100', '1000', '0.002', '']);
  });

  it('writes large and tiny ticks with an exponent', () => {
    expect([1e5, 2e6, 5e12, 3e12, 1e12, 5e-4, 2e-7, 50000].map(logTickLabel)).toEqual(['1e5', '2e6', '5e12', '', '1e12', '5e-4', '2e-7', '50000']);
  });
});
