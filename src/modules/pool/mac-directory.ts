const NONE = -1;

// A chunk is an aligned run of CHUNK MACs. Its dense form is an Int32Array of CHUNK slots (row + 1; 0: no row) and a
// last element counting the occupied slots: 4 KiB + 4 bytes.
const CHUNK_SHIFT = 10;
const CHUNK = 1 << CHUNK_SHIFT;
/**
 * A chunk gets its dense array when this many of its MACs are held: 4 KiB over 64 MACs is 64 bytes each, about what
 * one entry of the sparse Map costs, so the dense form never costs much more than the sparse one it replaces.
 */
const PROMOTE = 64;
/**
 * A dense chunk goes back to the sparse Map below this many MACs. Lower than PROMOTE so that a chunk whose count
 * hovers at one threshold does not convert back and forth on every change.
 */
const DEMOTE = 16;

/**
 * MAC → row (the first row of the MAC's list in OwnerIndex), without hashing or probing for the MACs a pool mostly
 * holds. Next-fit allocation hands out runs of consecutive MACs, so those live in dense chunks: a direct array per
 * aligned run of CHUNK MACs, where consecutive MACs are consecutive slots and a look-up is one array read (the last
 * chunk used is cached, which makes runs of allocations skip even the chunk Map). MACs with few neighbours (requested
 * ones, MACs outside the range, what is left after a range change) stay in a sparse Map, so a lone MAC costs a Map
 * entry, not a chunk.
 *
 * Invariants: every held MAC is in exactly one place — in its chunk's dense array when that chunk has one, else in
 * `sparse`; `sparseCounts` counts each chunk's sparse MACs (no entry at zero); a dense chunk holds at least DEMOTE
 * MACs; `cachedSlots` is `dense.get(cachedChunk)` (undefined when that chunk has no dense array).
 */
export class MacDirectory {
  private readonly dense = new Map<number, Int32Array>();
  private readonly sparse = new Map<number, number>();
  private readonly sparseCounts = new Map<number, number>();
  private cachedChunk = -1;
  private cachedSlots: Int32Array | undefined = undefined;
  private size_ = 0;

  /** MACs held. */
  get size(): number {
    return this.size_;
  }

  /** Chunks in dense form (for tests and memory estimates). */
  get denseChunkCount(): number {
    return this.dense.size;
  }

  /** MACs kept in the sparse Map (for tests). */
  get sparseCount(): number {
    return this.sparse.size;
  }

  /** The row stored for `mac`, or -1. */
  get(mac: number): number {
    const chunk = Math.floor(mac / CHUNK);
    const slots = this.slotsOf(chunk);
    if (slots !== undefined) return slots[mac - chunk * CHUNK] - 1;
    if (this.sparse.size === 0) return NONE;
    const row = this.sparse.get(mac);
    return row === undefined ? NONE : row;
  }

  /** Stores `row` for `mac`, held or not. */
  set(mac: number, row: number): void {
    const chunk = Math.floor(mac / CHUNK);
    const slots = this.slotsOf(chunk);
    if (slots !== undefined) {
      const slot = mac - chunk * CHUNK;
      if (slots[slot] === 0) {
        slots[CHUNK]++;
        this.size_++;
      }
      slots[slot] = row + 1;
      return;
    }
    const before = this.sparse.size;
    this.sparse.set(mac, row);
    if (this.sparse.size === before) return;
    this.size_++;
    const count = (this.sparseCounts.get(chunk) ?? 0) + 1;
    if (count >= PROMOTE) this.promote(chunk);
    else this.sparseCounts.set(chunk, count);
  }

  /** Forgets `mac` (a no-op when it is not held). */
  delete(mac: number): void {
    const chunk = Math.floor(mac / CHUNK);
    const slots = this.slotsOf(chunk);
    if (slots !== undefined) {
      const slot = mac - chunk * CHUNK;
      if (slots[slot] === 0) return;
      slots[slot] = 0;
      this.size_--;
      if (--slots[CHUNK] < DEMOTE) this.demote(chunk, slots);
      return;
    }
    if (!this.sparse.delete(mac)) return;
    this.size_--;
    const count = (this.sparseCounts.get(chunk) as number) - 1;
    if (count === 0) this.sparseCounts.delete(chunk);
    else this.sparseCounts.set(chunk, count);
  }

  /** Every held MAC, as a snapshot (dense chunks in creation order, then the sparse MACs). */
  macs(): number[] {
    const result: number[] = [];
    for (const [chunk, slots] of this.dense) {
      for (let slot = 0; slot < CHUNK; slot++) if (slots[slot] !== 0) result.push(chunk * CHUNK + slot);
    }
    for (const mac of this.sparse.keys()) result.push(mac);
    return result;
  }

  private slotsOf(chunk: number): Int32Array | undefined {
    if (chunk !== this.cachedChunk) {
      this.cachedSlots = this.dense.get(chunk);
      this.cachedChunk = chunk;
    }
    return this.cachedSlots;
  }

  /** Moves a chunk's sparse MACs into a new dense array. */
  private promote(chunk: number): void {
    const slots = new Int32Array(CHUNK + 1);
    const base = chunk * CHUNK;
    let count = 0;
    // A scan of the chunk's CHUNK MACs, once per chunk: cheaper than keeping a list of each chunk's sparse MACs.
    for (let slot = 0; slot < CHUNK && count < PROMOTE; slot++) {
      const row = this.sparse.get(base + slot);
      if (row === undefined) continue;
      this.sparse.delete(base + slot);
      slots[slot] = row + 1;
      count++;
    }
    slots[CHUNK] = count;
    this.sparseCounts.delete(chunk);
    this.dense.set(chunk, slots);
    this.cachedChunk = chunk;
    this.cachedSlots = slots;
  }

  /** Moves a dense chunk's remaining MACs back to the sparse Map and drops the array. */
  private demote(chunk: number, slots: Int32Array): void {
    const base = chunk * CHUNK;
    for (let slot = 0; slot < CHUNK; slot++)
      if (slots[slot] !== 0) this.sparse.set(base + slot, slots[slot] - 1);
    if (slots[CHUNK] > 0) this.sparseCounts.set(chunk, slots[CHUNK]);
    this.dense.delete(chunk);
    this.cachedChunk = chunk;
    this.cachedSlots = undefined;
  }
}
