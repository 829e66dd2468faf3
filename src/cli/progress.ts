/**
 * Progress of a long step on stderr (a million-token cache takes seconds to
 * generate and most of a minute to check in f64): nothing for a step that
 * ends within two seconds of its first report, then a line every five
 * seconds and one at the end.
 */
const QUIET_MS = 2000;
const EVERY_MS = 5000;

export function progressLine(what: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): (done: number, total: number) => void {
  let start: number | undefined;
  let last = 0;
  let shown = false;
  return (done, total) => {
    const now = performance.now();
    start ??= now;
    const due = done >= total ? shown : now - (shown ? last : start) >= (shown ? EVERY_MS : QUIET_MS);
    if (!due) return;
    shown = true;
    last = now;
    write(`${what}: ${Math.floor((100 * done) / total)}% (${done} of ${total}), ${((now - start) / 1000).toFixed(0)} s`);
  };
}
