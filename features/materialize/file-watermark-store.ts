import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FeatureViewName } from '../definitions.js';
import { WatermarkStateError, type PlannedWindow, type WatermarkStore } from './watermark-store.js';

interface StateFile {
  watermarks: Partial<Record<FeatureViewName, number>>;
  windows: Record<string, PlannedWindow & { completed: number[] }>;
}

/**
 * Watermarks in a JSON file, for local runs without a durable store and for tests. Every update
 * is read-modify-write behind an in-process queue and lands with write-then-rename, so a crash
 * leaves the old or the new file, never half of one. Not safe across processes: two CLIs on the
 * same file could lose a unit completion (never move a watermark backwards, though — the next run
 * would just redo the window).
 */
export class FileWatermarkStore implements WatermarkStore {
  readonly name = 'file' as const;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly filePath: string) {}

  async getWatermark(view: FeatureViewName): Promise<number | null> {
    return (await this.load()).watermarks[view] ?? null;
  }

  advanceWatermark(view: FeatureViewName, to: number): Promise<boolean> {
    return this.update((state) => {
      const current = state.watermarks[view];
      if (current !== undefined && current >= to) return false;
      state.watermarks[view] = to;
      return true;
    });
  }

  recordWindow(window: PlannedWindow): Promise<void> {
    return this.update((state) => {
      state.windows[window.windowId] ??= { ...window, completed: [] };
    });
  }

  async getWindow(windowId: string): Promise<PlannedWindow | null> {
    const stored = (await this.load()).windows[windowId];
    if (!stored) return null;
    const { completed: _completed, ...window } = stored;
    return window;
  }

  markUnitComplete(windowId: string, unitIndex: number): Promise<number> {
    return this.update((state) => {
      const window = state.windows[windowId];
      if (!window) throw new WatermarkStateError('file', `window ${windowId} was never planned`);
      if (!window.completed.includes(unitIndex)) window.completed.push(unitIndex);
      return window.completed.length;
    });
  }

  async completedUnitCount(windowId: string): Promise<number> {
    return (await this.load()).windows[windowId]?.completed.length ?? 0;
  }

  private update<T>(change: (state: StateFile) => T): Promise<T> {
    const next = this.queue.then(async () => {
      const state = await this.load();
      const result = change(state);
      await this.save(state);
      return result;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async load(): Promise<StateFile> {
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { watermarks: {}, windows: {} };
      throw new WatermarkStateError('file', `cannot read ${this.filePath}`, { cause: error });
    }
    try {
      const parsed = JSON.parse(text) as StateFile;
      return { watermarks: parsed.watermarks ?? {}, windows: parsed.windows ?? {} };
    } catch (error) {
      throw new WatermarkStateError('file', `${this.filePath} is not valid JSON`, { cause: error });
    }
  }

  private async save(state: StateFile): Promise<void> {
    const horizon = Date.now() - 14 * 86_400_000;
    for (const [id, window] of Object.entries(state.windows)) {
      if (window.plannedAt < horizon) delete state.windows[id];
    }
    await mkdir(path.dirname(this.filePath), { recursive: true });
    const temporary = `${this.filePath}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(state, null, 2));
    await rename(temporary, this.filePath);
  }
}
