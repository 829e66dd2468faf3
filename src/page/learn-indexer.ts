/**
 * Learn, step 8: which keys sparse attention keeps. The lightning indexer's
 * scores of a small case (src/indexer/indexer-learn.ts) as a heat map, the
 * top-k each query token keeps on a second one (planted tokens marked), and
 * the recall of the planted tokens. CPU only.
 */
import { indexerLearnCase } from '../indexer/indexer-learn';
import { INDEXER } from '../mla/indexer-shape';
import { ChartView } from './charts';
import { find, fmtNum } from './html';

export const INDEXER_STEP = `<section class="learn-step" id="learn-indexer"><h3>8. Sparse attention: which keys the indexer keeps</h3>
  <p>At a million tokens V3.2 does not attend every key. The lightning indexer (${INDEXER.heads} heads of ${INDEXER.headDim}, FP8 keys of ${INDEXER.bytesPerToken} B a token) scores each cached token:
  <code>I[i, t] = sum_j w[i, j] ReLU(q[i, j] . k[t])</code>, a seventeenth of the decode's work per token; the best ${INDEXER.topk} are kept and the MLA decode attends only those.
  Here a short cache with three planted tokens (keys aimed at the queries), four query tokens and a top-12.</p>
  <figure class="chart heat"><canvas id="learn-index-scores"></canvas></figure>
  <figure class="chart heat"><canvas id="learn-index-chosen"></canvas></figure>
  <p id="learn-index-recall"></p></section>`;

export function showIndexerStep(root: HTMLElement): void {
  const c = indexerLearnCase();
  const finite = c.scores.flat().filter(Number.isFinite);
  const floor = Math.min(...finite);
  const scores = new ChartView(find<HTMLCanvasElement>(root, '#learn-index-scores'));
  const chosen = new ChartView(find<HTMLCanvasElement>(root, '#learn-index-chosen'));
  // Tokens a query token does not see (past its position) are drawn at the lowest score.
  scores.heatmap(`Indexer scores I[i, t] (${c.keys} tokens, causal)`, c.scores.map((row) => row.map((s) => (Number.isFinite(s) ? s : floor))), 'token t', 'query token i', false, (v) => fmtNum(v));
  const planted = new Set(c.planted);
  const marks = c.scores.map((row, i) => row.map((_, t) => {
    const kept = c.chosen[i].includes(t);
    if (planted.has(t)) return kept ? 2 : -1;
    return kept ? 1 : 0;
  }));
  chosen.heatmap(`Kept by top-${c.k}: 1 kept, 2 planted and kept, -1 planted and missed`, marks, 'token t', 'query token i', true, (v) => String(v));
  find(root, '#learn-index-recall').textContent = `Planted tokens ${c.planted.join(', ')}: kept ${c.found} times of ${c.of} (recall ${fmtNum((100 * c.found) / c.of, 3)} %). `
    + `Query token 0 keeps ${c.chosen[0].join(', ')}.`;
}
