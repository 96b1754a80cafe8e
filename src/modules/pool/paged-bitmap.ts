/** Bits per page: 2^16, so a page offset fits a Uint16 and a dense page is 8 KiB. */
export const PAGE_BITS = 65536;
const WORDS_PER_PAGE = PAGE_BITS / 32;
const SUMMARY_WORDS = WORDS_PER_PAGE / 32;
const FULL_WORD = 0xffffffff;

/** A sparse page turns dense once it holds more offsets than this (4096 Uint16 = 8 KiB, the size of a dense page). */
const SPARSE_LIMIT = 4096;
/** A dense page turns sparse again only well below the limit, so a page at the boundary does not flip-flop. */
const DENSE_TO_SPARSE = SPARSE_LIMIT / 2;
/** Rough per-object overhead of a page in V8 (object header, typed-array headers, map entry). */
const PAGE_OVERHEAD_BYTES = 160;

function lowestSetBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** One 2^16-bit slice of the bitmap. */
interface BitPage {
  readonly count: number;
  readonly byteSize: number;
  has(bit: number): boolean;
  add(bit: number): boolean;
  delete(bit: number): boolean;
  /** The first clear bit at or after `from` inside this page, or -1. */
  nextClear(from: number): number;
}

/**
 * Plain bits plus a summary bit per word that is set when the word is full, so finding a clear bit skips full
 * words 32 at a time: at most 64 summary words and one data word are read per search.
 */
class DenseBitPage implements BitPage {
  private readonly words = new Uint32Array(WORDS_PER_PAGE);
  private readonly fullWords = new Uint32Array(SUMMARY_WORDS);
  count = 0;

  get byteSize(): number {
    return this.words.byteLength + this.fullWords.byteLength + PAGE_OVERHEAD_BYTES;
  }

  static from(bits: Iterable<number>): DenseBitPage {
    const page = new DenseBitPage();
    for (const bit of bits) page.add(bit);
    return page;
  }

  has(bit: number): boolean {
    return (this.words[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }

  add(bit: number): boolean {
    const w = bit >>> 5;
    const old = this.words[w];
    const updated = (old | (1 << (bit & 31))) >>> 0;
    if (updated === old) return false;
    this.words[w] = updated;
    this.count++;
    if (updated === FULL_WORD) this.fullWords[w >>> 5] |= 1 << (w & 31);
    return true;
  }

  delete(bit: number): boolean {
    const w = bit >>> 5;
    const old = this.words[w];
    const updated = (old & ~(1 << (bit & 31))) >>> 0;
    if (updated === old) return false;
    this.words[w] = updated;
    this.count--;
    if (old === FULL_WORD) this.fullWords[w >>> 5] &= ~(1 << (w & 31));
    return true;
  }

  nextClear(from: number): number {
    const w = from >>> 5;
    const freeHere = ~this.words[w] & (-1 << (from & 31));
    if (freeHere !== 0) return (w << 5) + lowestSetBit(freeHere);
    const after = w + 1;
    if (after >= WORDS_PER_PAGE) return -1;
    let s = after >>> 5;
    let notFull = ~this.fullWords[s] & (-1 << (after & 31));
    while (notFull === 0) {
      if (++s >= SUMMARY_WORDS) return -1;
      notFull = ~this.fullWords[s];
    }
    const word = (s << 5) + lowestSetBit(notFull);
    return (word << 5) + lowestSetBit(~this.words[word]);
  }

  *bits(): IterableIterator<number> {
    for (let w = 0; w < WORDS_PER_PAGE; w++) {
      let word = this.words[w];
      while (word !== 0) {
        const bit = lowestSetBit(word);
        yield (w << 5) + bit;
        word = (word & ~(1 << bit)) >>> 0;
      }
    }
  }
}

/** A sorted list of set offsets: a page holding a few MACs (requested ones, a small range) costs bytes, not 8 KiB. */
class SparseBitPage implements BitPage {
  private values = new Uint16Array(8);
  count = 0;

  get byteSize(): number {
    return this.values.byteLength + PAGE_OVERHEAD_BYTES;
  }

  static from(bits: Iterable<number>): SparseBitPage {
    const page = new SparseBitPage();
    for (const bit of bits) page.add(bit);
    return page;
  }

  private lowerBound(bit: number): number {
    let lo = 0;
    let hi = this.count;
    if (hi > 0 && this.values[hi - 1] < bit) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.values[mid] < bit) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(bit: number): boolean {
    const i = this.lowerBound(bit);
    return i < this.count && this.values[i] === bit;
  }

  add(bit: number): boolean {
    const i = this.lowerBound(bit);
    if (i < this.count && this.values[i] === bit) return false;
    if (this.count === this.values.length) {
      const grown = new Uint16Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values.copyWithin(i + 1, i, this.count);
    this.values[i] = bit;
    this.count++;
    return true;
  }

  delete(bit: number): boolean {
    const i = this.lowerBound(bit);
    if (i >= this.count || this.values[i] !== bit) return false;
    this.values.copyWithin(i, i + 1, this.count);
    this.count--;
    return true;
  }

  nextClear(from: number): number {
    let i = this.lowerBound(from);
    let candidate = from;
    while (i < this.count && this.values[i] === candidate) {
      i++;
      candidate++;
    }
    return candidate < PAGE_BITS ? candidate : -1;
  }

  *bits(): IterableIterator<number> {
    for (let i = 0; i < this.count; i++) yield this.values[i];
  }
}

/**
 * A bitmap over [0, size) for sizes up to 2^48 whose memory grows with the pages in use, not with the size.
 * Pages are created on first use and dropped when empty; a page is a sorted offset list while it holds few bits and
 * a dense bit array (with a full-word summary) once it holds many. A second level marks full pages, so a search for a
 * clear bit never walks a full page: it reads the full-page summary, then at most one word summary.
 */
export class PagedBitmap {
  private readonly pages = new Map<number, BitPage>();
  /** Group g marks, one bit per page, which of pages [g·2^16, (g+1)·2^16) are full. */
  private readonly fullPages = new Map<number, DenseBitPage>();
  private setBits = 0;

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`bitmap size ${size} is not a positive integer`);
  }

  /** Number of set bits. */
  get count(): number {
    return this.setBits;
  }

  /** Estimated bytes held by pages and summaries (typed arrays plus a fixed per-page overhead). */
  get byteSize(): number {
    let bytes = 0;
    for (const page of this.pages.values()) bytes += page.byteSize;
    for (const group of this.fullPages.values()) bytes += group.byteSize;
    return bytes;
  }

  get pageCount(): number {
    return this.pages.size;
  }

  has(index: number): boolean {
    const p = Math.floor(index / PAGE_BITS);
    const page = this.pages.get(p);
    return page !== undefined && page.has(index - p * PAGE_BITS);
  }

  /** Sets a bit; returns false when it was already set. */
  set(index: number): boolean {
    this.checkIndex(index);
    const p = Math.floor(index / PAGE_BITS);
    let page = this.pages.get(p);
    if (page === undefined) {
      page = new SparseBitPage();
      this.pages.set(p, page);
    }
    if (!page.add(index - p * PAGE_BITS)) return false;
    this.setBits++;
    if (page instanceof SparseBitPage && page.count > SPARSE_LIMIT) {
      this.pages.set(p, DenseBitPage.from(page.bits()));
    } else if (page.count === PAGE_BITS) {
      this.markPageFull(p, true);
    }
    return true;
  }

  /** Clears a bit; returns false when it was already clear. */
  clear(index: number): boolean {
    this.checkIndex(index);
    const p = Math.floor(index / PAGE_BITS);
    const page = this.pages.get(p);
    if (page === undefined) return false;
    const wasFull = page.count === PAGE_BITS;
    if (!page.delete(index - p * PAGE_BITS)) return false;
    this.setBits--;
    if (wasFull) this.markPageFull(p, false);
    if (page.count === 0) {
      this.pages.delete(p);
    } else if (page instanceof DenseBitPage && page.count <= DENSE_TO_SPARSE) {
      this.pages.set(p, SparseBitPage.from(page.bits()));
    }
    return true;
  }

  /** The first clear bit in [from, size), or -1 when every bit there is set. */
  nextClear(from: number): number {
    if (from >= this.size) return -1;
    const lastPage = Math.floor((this.size - 1) / PAGE_BITS);
    let p = Math.floor(from / PAGE_BITS);
    let bit = from - p * PAGE_BITS;
    while (p <= lastPage) {
      const open = this.nextNonFullPage(p);
      if (open !== p) {
        p = open;
        bit = 0;
        if (p > lastPage) return -1;
      }
      const page = this.pages.get(p);
      const found = page === undefined ? bit : page.nextClear(bit);
      if (found >= 0) {
        const index = p * PAGE_BITS + found;
        return index < this.size ? index : -1;
      }
      p++;
      bit = 0;
    }
    return -1;
  }

  private nextNonFullPage(p: number): number {
    let group = Math.floor(p / PAGE_BITS);
    let offset = p - group * PAGE_BITS;
    for (;;) {
      const full = this.fullPages.get(group);
      if (full === undefined) return group * PAGE_BITS + offset;
      const open = full.nextClear(offset);
      if (open >= 0) return group * PAGE_BITS + open;
      group++;
      offset = 0;
    }
  }

  private markPageFull(p: number, full: boolean): void {
    const group = Math.floor(p / PAGE_BITS);
    const offset = p - group * PAGE_BITS;
    let marks = this.fullPages.get(group);
    if (full) {
      if (marks === undefined) {
        marks = new DenseBitPage();
        this.fullPages.set(group, marks);
      }
      marks.add(offset);
    } else if (marks !== undefined) {
      marks.delete(offset);
      if (marks.count === 0) this.fullPages.delete(group);
    }
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`bit ${index} is outside the bitmap [0, ${this.size})`);
    }
  }
}
