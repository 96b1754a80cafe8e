import { seededRandom } from '../../../test/fixtures/seeded-random';
import { MacDirectory } from './mac-directory';

const BASE = 0x020000000000;

describe('MacDirectory', () => {
  it('keeps a lone MAC, and MACs at both ends of the 48-bit space, in the sparse Map', () => {
    const directory = new MacDirectory();
    for (const [mac, row] of [
      [BASE + 12345, 7],
      [0, 0],
      [2 ** 48 - 1, 9],
    ])
      directory.set(mac, row);
    expect(directory.denseChunkCount).toBe(0);
    expect(directory.sparseCount).toBe(3);
    expect(directory.get(0)).toBe(0);
    expect(directory.get(2 ** 48 - 1)).toBe(9);
    expect(directory.get(BASE + 12345)).toBe(7);
    expect(directory.get(BASE + 12346)).toBe(-1);
    expect(directory.size).toBe(3);
  });

  it('gives a run of MACs a dense chunk and drops it when the run is released', () => {
    const directory = new MacDirectory();
    for (let i = 0; i < 63; i++) directory.set(BASE + i, i);
    expect(directory.denseChunkCount).toBe(0);
    directory.set(BASE + 63, 63);
    expect(directory.denseChunkCount).toBe(1);
    expect(directory.sparseCount).toBe(0);
    for (let i = 0; i < 64; i++) expect(directory.get(BASE + i)).toBe(i);
    for (let i = 0; i < 50; i++) directory.delete(BASE + i);
    expect(directory.denseChunkCount).toBe(0);
    expect(directory.sparseCount).toBe(14);
    for (let i = 50; i < 64; i++) expect(directory.get(BASE + i)).toBe(i);
    expect(directory.macs().sort((a, b) => a - b)).toEqual(
      Array.from({ length: 14 }, (_, i) => BASE + 50 + i),
    );
  });

  it.each([1, 2, 3])('agrees with a Map under runs, scattered and extreme MACs (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const directory = new MacDirectory();
    const model = new Map<number, number>();
    // Two runs across chunk boundaries (so chunks promote and demote) and MACs scattered over the whole space.
    const macs = [
      ...Array.from({ length: 300 }, (_, i) => BASE + 1024 * 3 - 150 + i),
      ...Array.from({ length: 200 }, (_, i) => 2 ** 48 - 200 + i),
      ...Array.from({ length: 100 }, () => Math.floor(random() * 2 ** 48)),
      0,
    ];
    let promoted = 0;
    let demoted = 0;
    for (let step = 0; step < 20000; step++) {
      const mac = macs[Math.floor(random() * macs.length)];
      const dense = directory.denseChunkCount;
      // Phases that mostly add, then mostly remove, so counts cross both thresholds.
      if (random() < (Math.floor(step / 2500) % 2 === 0 ? 0.9 : 0.05)) {
        directory.set(mac, step);
        model.set(mac, step);
      } else {
        directory.delete(mac);
        model.delete(mac);
      }
      if (directory.denseChunkCount > dense) promoted++;
      if (directory.denseChunkCount < dense) demoted++;
      expect(directory.get(mac)).toBe(model.get(mac) ?? -1);
      if (step % 500 === 0) {
        expect(directory.size).toBe(model.size);
        for (const m of macs)
          if (directory.get(m) !== (model.get(m) ?? -1)) expect(directory.get(m)).toBe(model.get(m));
        expect(directory.macs().sort((a, b) => a - b)).toEqual([...model.keys()].sort((a, b) => a - b));
      }
    }
    expect(promoted).toBeGreaterThan(0);
    expect(demoted).toBeGreaterThan(0);
  });
});
