// The phases of one iteration for the phase timeline: the indexed phase rows, plus phases that
// so far only have files (shown as running while the run is live and has no result yet).
import type { IterationRow } from "./api";
import { phaseKey, phaseOrder } from "./format";
import type { PhaseInfo } from "../components/PhaseTimeline.svelte";

export function iterationPhases(row: IterationRow, fileList: { phase: string | null }[], running: boolean): PhaseInfo[] {
  const m = new Map<string, PhaseInfo>();
  for (const p of row.phases) {
    m.set(p.phase, {
      key: p.phase,
      status: p.status,
      duration: p.duration_seconds,
      returnCode: p.return_code,
      timedOut: !!p.timed_out,
      hasFiles: false,
    });
  }
  for (const f of fileList) {
    if (!f.phase) continue;
    const k = phaseKey(f.phase);
    const e = m.get(k);
    if (e) e.hasFiles = true;
    else
      m.set(k, {
        key: k,
        status: running && !row.has_result ? "running" : null,
        duration: null,
        returnCode: null,
        timedOut: false,
        hasFiles: true,
      });
  }
  return [...m.values()].sort((a, b) => phaseOrder(a.key, b.key));
}
