/**
 * The folder list is the architecture (src/README.md): src/ holds folders
 * only, each folder's README says what it may import, every import keeps to
 * that and points down the list, and no file imports itself round a circle.
 * Imports are read from the source text: `import ... from './x'` (type-only
 * imports too), `export ... from './x'` and `import('./x')`; a worker's
 * `new URL('./x.ts', import.meta.url)` starts a module of its own and is no import.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = join(dirname(new URL(import.meta.url).pathname), '..', 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The src/ files a file imports (relative specifiers resolved to files; packages and shaders left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'(\.[^']+)'/gm)].map((m) => m[1].replace(/\?raw$/, ''));
  return specs.flatMap((spec) => {
    const base = normalize(join(dirname(file), spec));
    const found = [base, `${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p) && statSync(p).isFile());
    if (!found) throw new Error(`${relative(SRC, file)}: cannot resolve import '${spec}'`);
    return found.startsWith(SRC) && found.endsWith('.ts') ? [found] : [];
  });
}

/** The layers in src/README.md's table, bottom first. */
function layerOrder(): string[] {
  const readme = readFileSync(join(SRC, 'README.md'), 'utf8');
  return [...readme.matchAll(/^\| `([a-z-]+)\/` \|/gm)].map((m) => m[1]);
}

/** What a folder's README says it may import. */
function mayImport(layer: string): string[] {
  const readme = readFileSync(join(SRC, layer, 'README.md'), 'utf8');
  const line = /^May import: (.*)$/m.exec(readme);
  if (!line) throw new Error(`src/${layer}/README.md has no "May import:" line`);
  return line[1].startsWith('nothing') ? [] : line[1].replace(/\.$/, '').split(/,\s*/);
}

type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** Each import circle, as the chain of files that closes it. */
function findCircles(graph: ImportGraph): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[][] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      circles.push([...path.slice(path.indexOf(file)), file]);
      return;
    }
    state.set(file, 'open');
    for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return circles;
}

/** Imports from a file to a folder its own folder may not import. */
function forbiddenImports(graph: ImportGraph, folderOf: (f: string) => string, allowed: (folder: string) => readonly string[]): string[] {
  const found: string[] = [];
  for (const [file, deps] of graph) {
    const ok = new Set([folderOf(file), ...allowed(folderOf(file))]);
    for (const dep of deps) if (!ok.has(folderOf(dep))) found.push(`${file} -> ${dep}`);
  }
  return found;
}

describe('the folder layout (src/README.md)', () => {
  const files = tsFiles(SRC);
  const graph: ImportGraph = new Map(files.map((f) => [relative(SRC, f), importsOf(f).map((d) => relative(SRC, d))]));
  const folderOf = (file: string): string => file.split('/')[0];

  it('src/ holds folders only, beside its README, and the README lists each folder once', () => {
    const entries = readdirSync(SRC);
    const loose = entries.filter((e) => !statSync(join(SRC, e)).isDirectory() && e !== 'README.md');
    expect(loose).toEqual([]);
    const folders = entries.filter((e) => statSync(join(SRC, e)).isDirectory()).sort();
    expect([...layerOrder()].sort()).toEqual(folders);
  });

  it("the README's map of the code names every folder", () => {
    const readme = readFileSync(join(SRC, '..', 'README.md'), 'utf8');
    for (const layer of layerOrder()) expect(readme, `README.md names src/${layer}/`).toContain(`\`src/${layer}/\``);
  });

  it('each folder says what it may import, and only folders below it in the list', () => {
    const order = layerOrder();
    for (const layer of order) {
      for (const below of mayImport(layer)) {
        expect(order, `src/${layer}/README.md names "${below}"`).toContain(below);
        expect(order.indexOf(below), `src/${layer} may import ${below}, which is not below it`).toBeLessThan(order.indexOf(layer));
      }
    }
  });

  it('every import keeps to what its folder may import', () => {
    expect(forbiddenImports(graph, folderOf, mayImport)).toEqual([]);
  });

  it('has no import circle', () => {
    expect(findCircles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('the two checks find a circle and a forbidden import where there is one', () => {
    const bad: ImportGraph = new Map([
      ['gpu/device.ts', ['gpu/loop-limit.ts']],
      ['gpu/loop-limit.ts', ['kernels/kernel-plan.ts']],
      ['kernels/kernel-plan.ts', ['gpu/device.ts']],
    ]);
    expect(findCircles(bad).map((c) => c.join(' -> '))).toEqual(['gpu/device.ts -> gpu/loop-limit.ts -> kernels/kernel-plan.ts -> gpu/device.ts']);
    expect(forbiddenImports(bad, folderOf, mayImport)).toEqual(['gpu/loop-limit.ts -> kernels/kernel-plan.ts']);
    // and the reader sees the real imports: loop-limit binds through gpu/bindings.ts
    expect(graph.get('gpu/loop-limit.ts')).toContain('gpu/bindings.ts');
  });
});
