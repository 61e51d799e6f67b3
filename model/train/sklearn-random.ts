/**
 * The random streams scikit-learn's tree code and numpy's legacy `RandomState` produce for an
 * integer seed, reproduced bit for bit. Hand-written because no npm package reproduces numpy's
 * seeding + masked bounded draws, and matching them is what makes "seed N" here mean the same
 * feature-visit order (hence the same tie-breaking) as `DecisionTreeClassifier(random_state=N)`
 * and the same permutation as `np.random.RandomState(N).permutation(n)`.
 */

const N = 624;
const M = 397;

/** MT19937 as numpy's legacy `RandomState(seed)` seeds it (init_genrand). */
export class MersenneTwister {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${seed}`);
    }
    this.state[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = this.state[i - 1] ^ (this.state[i - 1] >>> 30);
      this.state[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** numpy `random_interval(max)`: uniform in [0, max] by masked rejection. */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0;
    while (value > max);
    return value;
  }

  /** `RandomState.randint(0, high)` for high <= 2^32 (int64 dtype, masked legacy path). */
  randint(high: number): number {
    return this.interval(high - 1);
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = (s[i] & 0x80000000) | (s[(i + 1) % N] & 0x7fffffff);
      s[i] = s[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}

/** `np.random.RandomState(seed).permutation(n)`: Fisher–Yates from the end, as numpy's shuffle. */
export function numpyPermutation(n: number, seed: number): Int32Array {
  const rng = new MersenneTwister(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.interval(i);
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

const RAND_R_MAX = 0x7fffffff;

/**
 * scikit-learn's `our_rand_r` xorshift stream, seeded like `Splitter.init`:
 * `random_state.randint(0, RAND_R_MAX)`.
 */
export class SklearnRandR {
  private state: number;

  constructor(seed: number) {
    this.state = new MersenneTwister(seed).randint(RAND_R_MAX) >>> 0;
  }

  /** `rand_int(low, high)`: an integer in [low, high). */
  randInt(low: number, high: number): number {
    if (this.state === 0) this.state = 1; // sklearn's DEFAULT_SEED: xorshift is stuck at 0
    let s = this.state;
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    this.state = s;
    return low + ((s % (RAND_R_MAX + 1)) % (high - low));
  }
}
