// Two-component PCA of a row-major float matrix, for the demo's taste map.
//
// The covariance (cols x cols) is estimated from at most `sample` rows taken at an even stride,
// which keeps a 100,000 x 64 catalogue to a few milliseconds; its top two eigenvectors come from
// power iteration with deflation. Deterministic: no randomness, and each axis's sign is fixed so
// that its largest-magnitude component is positive.

function powerIteration(cov, d, iterations, deflate) {
  let v = new Float64Array(d);
  // A start vector not orthogonal to the leading eigenvector in any realistic case, and
  // different in every coordinate so symmetric covariances do not stall it.
  for (let j = 0; j < d; ++j) v[j] = 1 + j / d;
  const w = new Float64Array(d);
  let lambda = 0;
  for (let it = 0; it < iterations; ++it) {
    for (let a = 0; a < d; ++a) {
      let s = 0;
      const row = a * d;
      for (let b = 0; b < d; ++b) s += cov[row + b] * v[b];
      w[a] = s;
    }
    if (deflate) {
      // Stay orthogonal to the first axis (Gram-Schmidt), which deflates it away.
      let p = 0;
      for (let j = 0; j < d; ++j) p += w[j] * deflate[j];
      for (let j = 0; j < d; ++j) w[j] -= p * deflate[j];
    }
    let norm = 0;
    for (let j = 0; j < d; ++j) norm += w[j] * w[j];
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    let change = 0;
    for (let j = 0; j < d; ++j) {
      const x = w[j] / norm;
      change += Math.abs(x - v[j]);
      v[j] = x;
    }
    lambda = norm;
    if (change < 1e-10) break;
  }
  let big = 0;
  for (let j = 0; j < d; ++j) if (Math.abs(v[j]) > Math.abs(v[big])) big = j;
  if (v[big] < 0) for (let j = 0; j < d; ++j) v[j] = -v[j];
  return { vector: v, value: lambda };
}

/**
 * @param {Float32Array} data rows x cols, row-major
 * @returns {{ mean: Float64Array, axes: Float64Array[], variance: number[], totalVariance: number,
 *            coords: Float32Array }} coords holds (x, y) per row.
 */
export function pca2(data, rows, cols, { sample = 8000, iterations = 300 } = {}) {
  if (rows < 1 || cols < 1 || data.length < rows * cols) throw new Error('pca2: bad matrix shape');
  const d = cols;
  const mean = new Float64Array(d);
  const stride = Math.max(1, Math.floor(rows / sample));
  let n = 0;
  for (let r = 0; r < rows; r += stride, ++n) {
    const o = r * d;
    for (let j = 0; j < d; ++j) mean[j] += data[o + j];
  }
  for (let j = 0; j < d; ++j) mean[j] /= n;
  // The centred sample, column-major, so each covariance entry is one contiguous dot product.
  const cols_ = new Array(d);
  for (let j = 0; j < d; ++j) cols_[j] = new Float64Array(n);
  for (let r = 0, s = 0; r < rows && s < n; r += stride, ++s) {
    const o = r * d;
    for (let j = 0; j < d; ++j) cols_[j][s] = data[o + j] - mean[j];
  }
  const cov = new Float64Array(d * d);
  let total = 0;
  for (let a = 0; a < d; ++a) {
    const ca = cols_[a];
    for (let b = a; b < d; ++b) {
      const cb = cols_[b];
      let acc = 0;
      for (let s = 0; s < n; ++s) acc += ca[s] * cb[s];
      const c = acc / Math.max(1, n - 1);
      cov[a * d + b] = c;
      cov[b * d + a] = c;
    }
    total += cov[a * d + a];
  }
  const first = powerIteration(cov, d, iterations, null);
  const second = d > 1 ? powerIteration(cov, d, iterations, first.vector) : { vector: new Float64Array(d), value: 0 };
  const coords = project(data, rows, cols, mean, [first.vector, second.vector]);
  return { mean, axes: [first.vector, second.vector], variance: [first.value, second.value], totalVariance: total, coords };
}

/** Projects rows onto the axes (after centring): (x, y) per row. */
export function project(data, rows, cols, mean, axes) {
  const out = new Float32Array(rows * 2);
  const [a0, a1] = axes;
  for (let r = 0; r < rows; ++r) {
    const o = r * cols;
    let px = 0, py = 0;
    for (let j = 0; j < cols; ++j) {
      const v = data[o + j] - mean[j];
      px += v * a0[j];
      py += v * a1[j];
    }
    out[2 * r] = px;
    out[2 * r + 1] = py;
  }
  return out;
}
