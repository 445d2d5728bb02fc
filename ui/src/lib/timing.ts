// Timing helpers for live views: coalesce bursts of backend events into few reloads.

/** Calls `f` at most once per `ms`, after the last call. */
export function debounce(f: () => void, ms: number): (() => void) & { cancel: () => void } {
  let t: ReturnType<typeof setTimeout> | null = null;
  const d = () => {
    if (t) clearTimeout(t);
    t = setTimeout(() => {
      t = null;
      f();
    }, ms);
  };
  d.cancel = () => {
    if (t) clearTimeout(t);
    t = null;
  };
  return d;
}

/** Calls `f` at most once per `ms` (a number, or asked each time): at once, then once more at
 *  the end of a burst. */
export function throttle(f: () => void, ms: number | (() => number)): (() => void) & { cancel: () => void } {
  const gap = typeof ms === "number" ? () => ms : ms;
  let last = 0;
  let t: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    t = null;
    last = Date.now();
    f();
  };
  const th = () => {
    if (t) return;
    const wait = last + gap() - Date.now();
    if (wait <= 0) run();
    else t = setTimeout(run, wait);
  };
  th.cancel = () => {
    if (t) clearTimeout(t);
    t = null;
  };
  return th;
}
