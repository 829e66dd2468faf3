/**
 * The Ladder view's Devices section: this GPU beside others. Device profiles
 * (the Tune section's export, or `bench --tune`'s file) and ladder results
 * (the Ladder's export, or `bench --ladder --json-out`) made on other
 * devices are imported here and shown with this device's own: one table
 * (each shape's rows together, with the share of each device's FMA ceiling
 * and plain-matmul yardstick) and one roofline (each device's ceilings and
 * points in its colour).
 */
import { COMPARISON_HEAD, type DeviceResults, comparisonCells, parseDeviceResults } from '../tune/device-results';
import { ChartView } from './charts';
import { escapeHtml, find } from './html';

export interface DevicesPanel {
  /** This device's results from one source ("profile", "ladder"); undefined removes them. */
  readonly setOwn: (source: 'profile' | 'ladder', results: DeviceResults | undefined) => void;
}

export function mountDevicesPanel(host: HTMLElement): DevicesPanel {
  host.innerHTML = `<div id="devices-root"><h2>This GPU beside others</h2>
    <p class="lead">Import profiles or ladder results exported on other devices (the buttons above, or the command line's <code>bench --tune</code> profile and <code>bench --ladder --json-out</code>) to see them beside this GPU's. Each device is measured against its own ceilings, in its own run.</p>
    <label class="file"><span>Import (JSON, several at once)</span> <input type="file" id="devices-import" accept=".json,application/json" multiple></label>
    <p id="devices-status" class="hint">Nothing imported.</p>
    <div id="devices-list"></div>
    <figure class="chart"><canvas id="devices-roofline"></canvas></figure>
    <div id="devices-table"></div></div>`;
  const root = find(host, '#devices-root');
  const status = find(root, '#devices-status');
  const chart = new ChartView(find<HTMLCanvasElement>(root, '#devices-roofline'));
  const own = new Map<string, DeviceResults>();
  let imported: DeviceResults[] = [];

  function draw(): void {
    const devices = [...own.values(), ...imported];
    root.dataset.devices = String(devices.length);
    find(root, '#devices-list').innerHTML = imported.length
      ? `<ul>${imported.map((d, k) => `<li>${escapeHtml(d.from)}: ${escapeHtml(d.adapter)}, ${d.rows.length} row${d.rows.length === 1 ? '' : 's'} <button type="button" data-remove="${k}">Remove</button></li>`).join('')}</ul>`
      : '';
    find(root, '#devices-table').innerHTML = devices.length
      ? `<table><thead><tr>${COMPARISON_HEAD.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`
        + comparisonCells(devices).map((cells) => `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('') + '</tbody></table>'
      : '<p class="hint">No results yet: run the ladder or tune here, or import a file.</p>';
    if (devices.length) {
      chart.devicesRoofline('Each device against its own ceilings', devices.map((d) => ({
        label: `${d.adapter} (${d.from})`, ceilings: d.ceilings,
        points: d.rows.map((r) => ({ label: `${r.shape}: ${r.ran}`, x: r.intensity, y: r.gflops })),
      })));
    }
  }

  find(root, '#devices-list').addEventListener('click', (e) => {
    const k = (e.target as HTMLElement).dataset.remove;
    if (k === undefined) return;
    imported = imported.filter((_, j) => j !== Number(k));
    draw();
  });

  find<HTMLInputElement>(root, '#devices-import').addEventListener('change', async (e) => {
    const input = e.target as HTMLInputElement;
    const errors: string[] = [];
    let added = 0;
    for (const file of input.files ?? []) {
      try {
        imported.push(parseDeviceResults(await file.text(), file.name));
        added++;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    input.value = '';
    status.textContent = [`Imported ${added} file${added === 1 ? '' : 's'}.`, ...errors.map((m) => `Refused ${m}`)].join(' ');
    status.className = errors.length ? 'fail' : 'hint';
    draw();
  });

  draw();
  return {
    setOwn: (source, results) => {
      if (results) own.set(source, results);
      else own.delete(source);
      draw();
    },
  };
}
