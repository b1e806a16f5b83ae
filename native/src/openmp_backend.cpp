#include "edgerec/openmp_backend.hpp"

#ifdef EDGEREC_USE_OPENMP
#include <omp.h>
#endif

namespace edgerec {
namespace {

class OpenMpBackend final : public Backend {
 public:
  explicit OpenMpBackend(int threads) : threads_(threads) {}
  std::string name() const override { return "openmp"; }
  int threads() const override { return threads_; }
  void parallel_for(std::size_t n, int chunks,
                    const std::function<void(std::size_t, std::size_t, int)>& body) override {
    if (chunks < 1) chunks = 1;
#ifdef EDGEREC_USE_OPENMP
    // dynamic: chunks vary in cost (users have different history lengths). Results never
    // depend on which thread runs a chunk, only on the chunk boundaries.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
#endif
    for (int c = 0; c < chunks; ++c) {
      const std::size_t begin = n * static_cast<std::size_t>(c) / static_cast<std::size_t>(chunks);
      const std::size_t end = n * static_cast<std::size_t>(c + 1) / static_cast<std::size_t>(chunks);
      if (begin < end) body(begin, end, c);
    }
  }

 private:
  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_openmp_backend(int threads) {
  if (threads < 0 || threads > kMaxThreads)
    throw Error("threads must be in [0, " + std::to_string(kMaxThreads) + "] (0 = all cores), got " +
                std::to_string(threads));
#ifdef EDGEREC_USE_OPENMP
  if (threads == 0) {
    threads = omp_get_max_threads();
    if (threads > kMaxThreads)
      throw Error("OMP_NUM_THREADS asks for " + std::to_string(threads) + " threads, more than the " +
                  std::to_string(kMaxThreads) + " edgerec runs; ask for fewer threads");
  }
#else
  threads = 1;
#endif
  return std::make_unique<OpenMpBackend>(threads);
}

std::unique_ptr<Backend> make_backend(const std::string& name, int threads) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "openmp" || name == "auto") return make_openmp_backend(threads);
  throw Error("unknown backend '" + name + "' (valid: auto, cpu, openmp)");
}

}  // namespace edgerec
