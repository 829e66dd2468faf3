/**
 * The Claims view: the article's nine claims (src/claims/claims.ts), one row
 * each with the sandbox's answer, its verdict, how it was obtained and where
 * to see more. The computed rows show at once, without WebGPU; "Measure on
 * this GPU" runs the measured ones (src/claims/measure.ts, each run checked
 * against the reference) with progress, then fills them in.
 */
import type { GpuContext } from '../gpu/device';
import { describeAdapter, isSoftwareAdapter } from '../gpu/device';
import { type ClaimRow, claimRows } from '../claims/claims';
import { PAGE_MEASURE, measureClaims, measureRunCount } from '../claims/measure';
import { escapeHtml, find } from './html';

function tableHtml(rows: readonly ClaimRow[]): string {
  return `<table id="claims-table"><thead><tr><th>#</th><th>the article says</th><th>verdict</th><th>the sandbox's answer</th><th>how</th><th>see</th></tr></thead><tbody>${rows.map((r) => `<tr data-id="${r.id}" class="${r.pending ? 'pending' : ''}">
    <td>${r.id}</td><td>${escapeHtml(r.claim)}</td><td class="verdict">${escapeHtml(r.verdict)}${r.pending ? '<div class="hint">measured part not run yet</div>' : ''}</td>
    <td>${escapeHtml(r.answer)}</td><td>${escapeHtml(r.how)}${r.why ? `<div class="hint">${escapeHtml(r.why)}</div>` : ''}</td><td>${escapeHtml(r.see)}</td></tr>`).join('')}</tbody></table>`;
}

export function mountClaimsView(view: HTMLElement, getDevice: () => Promise<GpuContext>): void {
  view.innerHTML = `<div id="claims-root"><h2>The article's claims</h2>
    <p class="lead">One widely shared article on DeepSeek's next model made these claims. Each answer here comes from the sandbox's own tables (the head presets, the cache layouts, the memory calculator) or from runs on this GPU, checked against the CPU reference like every run; the verdicts follow from those numbers.</p>
    <div class="buttons"><button type="button" id="claims-measure">Measure on this GPU (${measureRunCount(PAGE_MEASURE)} runs)</button></div>
    <div class="progress-row"><progress id="claims-progress" value="0" max="1"></progress><span id="claims-status">Computed rows shown; the measured parts run on request.</span></div>
    <div id="claims-rows"></div></div>`;
  const root = find(view, '#claims-root');
  const status = find(root, '#claims-status');
  const progress = find<HTMLProgressElement>(root, '#claims-progress');
  const button = find<HTMLButtonElement>(root, '#claims-measure');
  find(root, '#claims-rows').innerHTML = tableHtml(claimRows());
  root.dataset.rows = '9';
  button.addEventListener('click', () => {
    button.disabled = true;
    root.dataset.state = 'running';
    void (async () => {
      try {
        const ctx = await getDevice();
        const facts = await measureClaims(ctx, PAGE_MEASURE, (done, total, label) => {
          progress.max = total;
          progress.value = done;
          status.textContent = done < total ? `Run ${done + 1} of ${total}: ${label}...` : 'Done.';
        });
        const device = { adapter: describeAdapter(ctx.adapter), software: isSoftwareAdapter(ctx.adapter), features: ctx.features };
        find(root, '#claims-rows').innerHTML = tableHtml(claimRows(facts, device));
        const failed = facts.runs.filter((r) => !r.pass);
        root.dataset.measured = failed.length === 0 ? 'pass' : 'fail';
        status.textContent = failed.length === 0 ? `Measured on ${device.adapter}: ${facts.runs.length} runs, every one checked and passing.` : `A run FAILED its check: ${failed.map((r) => r.label).join('; ')}`;
        root.dataset.state = 'done';
      } catch (e) {
        root.dataset.state = 'error';
        status.textContent = (e as Error).message;
      } finally {
        button.disabled = false;
      }
    })();
  });
}
