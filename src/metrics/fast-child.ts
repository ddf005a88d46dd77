// Pre-bound metric children for the hot path. prom-client hashes the label object on
// every inc()/observe() (a profile put it at ~5% of the proxy's CPU); a child made here
// holds its series' entry and only adds to it. The entries are prom-client's own (its
// `hashMap` values; prom-client is pinned to 15.x for this), so rendering, the registry
// and /metrics stay prom-client's. test/e2e checks the rendered counts against requests.

import type { Counter, Histogram } from "prom-client";

interface CounterEntry {
  value: number;
}
interface HistogramEntry {
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}
interface Internals<E> {
  hashMap: Record<string, E & { labels: Record<string, string | number> }>;
  upperBounds?: number[];
}

/** The series' entry, created (at zero) when it does not exist yet. */
function entryFor<E>(metric: object, labels: Record<string, string>, create: () => void): E {
  const find = (): E | undefined => {
    const want = Object.keys(labels);
    for (const e of Object.values((metric as Internals<E>).hashMap)) {
      const have = e.labels;
      if (Object.keys(have).length === want.length && want.every((k) => String(have[k]) === labels[k])) return e;
    }
    return undefined;
  };
  let e = find();
  if (!e) {
    create();
    e = find();
  }
  if (!e) throw new Error("metrics: series not found after creating it");
  return e;
}

export interface CounterChild {
  inc(v?: number): void;
}

export function counterChild<T extends string>(c: Counter<T>, labels: Record<T, string>): CounterChild {
  const e = entryFor<CounterEntry>(c, labels, () => c.inc(labels, 0));
  return {
    inc(v = 1) {
      e.value += v;
    },
  };
}

export interface HistogramChild {
  observe(v: number): void;
}

export function histogramChild<T extends string>(h: Histogram<T>, labels: Record<T, string>): HistogramChild {
  const e = entryFor<HistogramEntry>(h, labels, () => h.zero(labels));
  const bounds = (h as unknown as Internals<HistogramEntry>).upperBounds!;
  return {
    observe(v) {
      for (let i = 0; i < bounds.length; i++) {
        if (v <= bounds[i]!) {
          e.bucketValues[bounds[i]!]! += 1;
          break;
        }
      }
      e.sum += v;
      e.count += 1;
    },
  };
}
