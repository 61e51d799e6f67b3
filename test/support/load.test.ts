import { describe, expect, it } from 'vitest';
import { processCpuMicros } from './load.js';

describe('processCpuMicros', () => {
  it.runIf(process.platform === 'linux')(
    "counts this process's CPU time as the kernel's rusage does",
    () => {
      const before = processCpuMicros(process.pid)!;
      const usageBefore = process.cpuUsage();
      // Spin until getrusage says 40 ms of CPU went by (wall time may be longer on a busy machine).
      let spins = 0;
      while (process.cpuUsage(usageBefore).user < 40_000) spins++;
      const usage = process.cpuUsage(usageBefore);
      const after = processCpuMicros(process.pid)!;
      expect(spins).toBeGreaterThan(0);
      const rusage = usage.user + usage.system;
      // Other threads of the worker (GC, vitest's) may run meanwhile: schedstat counts them too.
      expect(after - before).toBeGreaterThanOrEqual(rusage * 0.9);
      expect(after - before).toBeLessThan(rusage * 1.5 + 10_000);
    },
  );

  it('is undefined for a process that does not exist', () => {
    expect(processCpuMicros(2 ** 22 + 1)).toBeUndefined();
  });
});
