/**
 * The marked regions of the shipped shaders that the exercises cut out.
 *
 * A region is a run of lines between two marker comments in a shipped
 * `.wgsl` file:
 *
 *     // ---- exercise scores: write from here ----
 *     ...the shipped code: the exercise's solution...
 *     // ---- exercise scores: to here ----
 *
 * The learner's file is the shipped file with the region's lines replaced by
 * the exercise's starter lines; the markers stay, so a learner sees where to
 * write and a checker can find the region again.
 */

export interface Region {
  /** 1-based line of the opening marker. */
  readonly beginLine: number;
  /** 1-based line of the closing marker. */
  readonly endLine: number;
  /** The lines between the markers. */
  readonly body: string;
}

export function beginMarker(name: string): string {
  return `// ---- exercise ${name}: write from here ----`;
}

export function endMarker(name: string): string {
  return `// ---- exercise ${name}: to here ----`;
}

/** The region `name` of `source`; an error naming `file` when its markers are missing, repeated or out of order. */
export function findRegion(source: string, name: string, file: string): Region {
  const lines = source.split('\n');
  const at = (marker: string) => lines.flatMap((l, k) => (l.trim() === marker ? [k] : []));
  const begins = at(beginMarker(name));
  const ends = at(endMarker(name));
  if (begins.length !== 1 || ends.length !== 1 || ends[0] < begins[0]) {
    throw new Error(`${file} must hold the marker lines "${beginMarker(name)}" and then "${endMarker(name)}", once each (found ${begins.length} and ${ends.length}): put them back around your code`);
  }
  return { beginLine: begins[0] + 1, endLine: ends[0] + 1, body: lines.slice(begins[0] + 1, ends[0]).join('\n') };
}

/** `source` with region `name`'s lines replaced by `body` (indented like the opening marker). */
export function replaceRegion(source: string, name: string, file: string, body: string): string {
  const region = findRegion(source, name, file);
  const lines = source.split('\n');
  const indent = /^\s*/.exec(lines[region.beginLine - 1])![0];
  const replacement = body.split('\n').map((l) => (l.trim() === '' ? '' : indent + l));
  return [...lines.slice(0, region.beginLine), ...replacement, ...lines.slice(region.endLine - 1)].join('\n');
}
