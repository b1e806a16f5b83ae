// Internal: the small dense solves of fold-ins and explanations (double precision, f x f).
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace edgerec::linalg {

// Solves A x = b in place (b becomes x) for symmetric positive definite A given by its lower
// triangle (row-major n x n, overwritten by the Cholesky factor). With no regularisation A can
// be singular; a jitter of 1e-9 of its mean diagonal then keeps the solve finite.
inline void cholesky_solve(std::vector<double>& A, int n, std::vector<double>& b) {
  const std::size_t N = static_cast<std::size_t>(n);
  double trace = 0;
  for (std::size_t i = 0; i < N; ++i) trace += A[i * N + i];
  const double jitter = 1e-9 * (trace > 0 ? trace / n : 1.0);
  for (std::size_t j = 0; j < N; ++j) {
    double* Lj = A.data() + j * N;
    double d = Lj[j];
    for (std::size_t k = 0; k < j; ++k) d -= Lj[k] * Lj[k];
    if (!(d > jitter)) d = jitter;
    const double ljj = std::sqrt(d);
    Lj[j] = ljj;
    for (std::size_t i = j + 1; i < N; ++i) {
      double* Li = A.data() + i * N;
      double s = Li[j];
      for (std::size_t k = 0; k < j; ++k) s -= Li[k] * Lj[k];
      Li[j] = s / ljj;
    }
  }
  for (std::size_t i = 0; i < N; ++i) {  // L y = b
    double s = b[i];
    for (std::size_t k = 0; k < i; ++k) s -= A[i * N + k] * b[k];
    b[i] = s / A[i * N + i];
  }
  for (std::size_t i = N; i-- > 0;) {  // L' x = y
    double s = b[i];
    for (std::size_t k = i + 1; k < N; ++k) s -= A[k * N + i] * b[k];
    b[i] = s / A[i * N + i];
  }
}

// The ridge regression behind the explanations of SGD-trained users. For rows x_j (X, n x d,
// row-major) and M = sum_j x_j x_j' + diag(reg), returns g_j = x_j' M^-1 x: the ridge solution
// z = M^-1 sum_j t_j x_j for any targets t scores x with z . x = sum_j t_j g_j, so t_j g_j is
// item j's exact share of that score.
inline std::vector<double> ridge_gains(const std::vector<double>& X, std::size_t n, int d,
                                       const std::vector<double>& reg, const std::vector<double>& x) {
  const std::size_t D = static_cast<std::size_t>(d);
  std::vector<double> M(D * D, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    const double* xj = X.data() + j * D;
    for (std::size_t r = 0; r < D; ++r)
      for (std::size_t c = 0; c <= r; ++c) M[r * D + c] += xj[r] * xj[c];
  }
  for (std::size_t r = 0; r < D; ++r) M[r * D + r] += reg[r];
  std::vector<double> w = x;
  cholesky_solve(M, d, w);
  std::vector<double> g(n, 0.0);
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t r = 0; r < D; ++r) g[j] += X[j * D + r] * w[r];
  return g;
}

}  // namespace edgerec::linalg
