// Peak memory of the current process. Two sources, because neither is enough alone: the
// sampler sees only moments when the event loop turns (a synchronous loop starves it), while
// VmHWM is the kernel's exact peak but includes everything since the process started.
import { readFileSync } from 'node:fs';

const MB = 1024 * 1024;

/** The kernel's peak resident set size of this process, in MB (null off Linux). */
export function vmHwmMb() {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples RSS every `everyMs` until stopped; unref'd so it never keeps the process alive. */
export function startRssSampler(everyMs = 20) {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss()) / MB;
    },
  };
}

export const rssMb = () => process.memoryUsage.rss() / MB;
