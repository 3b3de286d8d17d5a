// Maximum-likelihood estimate of the size of a set difference from which cells of its sketches
// are empty. A cell that each differing item hits independently with probability q is empty with
// probability (1 - q)^d; a cell compared on only b bits also looks empty by accident with
// probability 2^-b.

export class Observations {
  q = new Float64Array(64)
  falseEmpty = new Float64Array(64)
  weight = new Float64Array(64)
  empty = new Uint8Array(64)
  length = 0

  add(q: number, empty: boolean, falseEmpty: number, weight = 1): void {
    if (this.length === this.q.length) {
      const cap = this.length * 2
      const q2 = new Float64Array(cap)
      q2.set(this.q)
      this.q = q2
      const f2 = new Float64Array(cap)
      f2.set(this.falseEmpty)
      this.falseEmpty = f2
      const w2 = new Float64Array(cap)
      w2.set(this.weight)
      this.weight = w2
      const e2 = new Uint8Array(cap)
      e2.set(this.empty)
      this.empty = e2
    }
    const i = this.length++
    this.q[i] = q
    this.falseEmpty[i] = falseEmpty
    this.weight[i] = weight
    this.empty[i] = empty ? 1 : 0
  }

  /** Log-likelihood of a difference of size `d`. */
  logLikelihood(d: number): number {
    let sum = 0
    for (let i = 0; i < this.length; i++) {
      const f = this.falseEmpty[i]!
      const pEmpty = (1 - this.q[i]!) ** d
      const p = f + (1 - f) * pEmpty
      const w = this.weight[i]!
      if (this.empty[i] === 1) sum += w * Math.log(Math.max(p, 1e-300))
      else sum += w * Math.log(Math.max(1 - p, 1e-300))
    }
    return sum
  }

  /**
   * The maximum-likelihood difference size in `[lower, upper]` (the likelihood is unimodal in d:
   * each term is concave), by golden-section search over log d.
   */
  estimate(lower: number, upper: number): number {
    let a = Math.log(Math.max(1, lower))
    let b = Math.log(Math.max(lower, upper, 1))
    if (b - a < 1e-9) return Math.exp(a)
    const g = (Math.sqrt(5) - 1) / 2
    let x1 = b - g * (b - a)
    let x2 = a + g * (b - a)
    let f1 = this.logLikelihood(Math.exp(x1))
    let f2 = this.logLikelihood(Math.exp(x2))
    for (let it = 0; it < 48 && b - a > 1e-3; it++) {
      if (f1 < f2) {
        a = x1
        x1 = x2
        f1 = f2
        x2 = a + g * (b - a)
        f2 = this.logLikelihood(Math.exp(x2))
      } else {
        b = x2
        x2 = x1
        f2 = f1
        x1 = b - g * (b - a)
        f1 = this.logLikelihood(Math.exp(x1))
      }
    }
    return Math.exp((a + b) / 2)
  }
}
