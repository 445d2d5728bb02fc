import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debounce, throttle } from "./timing";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("throttle", () => {
  it("runs at once, then once at the end of a burst, never closer than the gap", () => {
    const f = vi.fn();
    const t = throttle(f, 1000);
    t();
    expect(f).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(100);
      t();
    }
    expect(f).toHaveBeenCalledTimes(2); // the trailing call fired at 1000 ms
    vi.advanceTimersByTime(999);
    expect(f).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(1);
    expect(f).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(5000);
    expect(f).toHaveBeenCalledTimes(3);
  });

  it("asks for the gap each time", () => {
    const f = vi.fn();
    let gap = 1000;
    const t = throttle(f, () => gap);
    t();
    gap = 3000;
    t();
    vi.advanceTimersByTime(2999);
    expect(f).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(f).toHaveBeenCalledTimes(2);
  });

  it("cancel drops the pending call", () => {
    const f = vi.fn();
    const t = throttle(f, 1000);
    t();
    t();
    t.cancel();
    vi.advanceTimersByTime(5000);
    expect(f).toHaveBeenCalledTimes(1);
  });
});

describe("debounce", () => {
  it("runs once, after the last call", () => {
    const f = vi.fn();
    const d = debounce(f, 200);
    for (let i = 0; i < 5; i++) {
      d();
      vi.advanceTimersByTime(100);
    }
    expect(f).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(f).toHaveBeenCalledTimes(1);
  });
});
