// golden_topk MODEL_FILE — prints every user's top-5 unseen items in the layout of
// models/golden/v<N>/<kind>.expected.tsv (user, rank, item, score to 9 significant digits), built
// against an installed edgerec (tests/package/CMakeLists.txt).
#include <cstdio>
#include <iostream>

#include <edgerec/edgerec.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: golden_topk MODEL_FILE\n";
    return 2;
  }
  try {
    const auto model = edgerec::load_model(argv[1]);
    edgerec::Recommender rec(*model);
    edgerec::RecommendOptions options;
    options.k = 5;
    std::cout << "# edgerec " << EDGEREC_VERSION << ", kernels " << edgerec::kernels::flavour() << "\n";
    char score[64];
    for (edgerec::index_t u = 0; u < model->n_users(); ++u) {
      const auto top = rec.recommend(model->users.id(u), options);
      for (std::size_t k = 0; k < top.size(); ++k) {
        std::snprintf(score, sizeof(score), "%.9g", static_cast<double>(top[k].score));
        std::cout << model->users.id(u) << '\t' << k + 1 << '\t' << top[k].item << '\t' << score << '\n';
      }
    }
  } catch (const edgerec::Error& e) {
    std::cerr << "golden_topk: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
