// The model reader on raw bytes: every input is an Error or a model that is usable (scores,
// top-K, fold-in, similar, explain run without crashing) and saves back into a file that loads
// again and re-saves to the same bytes (the writer refuses nothing the reader accepted, and the
// reader accepts everything the writer writes).
//
// Built twice: fuzz_model_reader takes the bytes as they come (so the header checks and the
// checksum are what it mostly meets); fuzz_model_payload (EDGEREC_FUZZ_FIX_HEADER) first makes
// the header agree with the input (magic, payload length) and recomputes the CRC-32, so every
// mutation reaches the payload parser.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "edgerec/edgerec.hpp"
#include "fuzz_util.hpp"

namespace er = edgerec;

namespace {

#ifdef EDGEREC_FUZZ_FIX_HEADER
void put_le(std::string& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}
#endif

void exercise(const er::Model& m) {
  er::Recommender rec(m);
  er::RecommendOptions o;
  o.k = 5;
  const auto guard = [](auto&& f) {
    try {
      f();
    } catch (const er::Error&) {
    }
  };
  if (m.n_users() > 0) {
    const std::string& user = m.users.id(0);
    guard([&] {
      for (const auto& r : rec.recommend(user, o)) FUZZ_CHECK(m.items.find(r.item) >= 0);
    });
    if (m.n_items() > 0) guard([&] { rec.explain(user, m.items.id(0), 3); });
  }
  if (m.n_items() > 0) {
    const std::string& item = m.items.id(0);
    const std::vector<er::UserInteraction> history{{item, 4.0f}, {m.items.id(m.n_items() - 1), 1.0f}};
    guard([&] { rec.recommend_for(history, o); });
    guard([&] { rec.similar(item, 5); });
    guard([&] { rec.explain_for(history, item, 3); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string file(reinterpret_cast<const char*>(data), size);
#ifdef EDGEREC_FUZZ_FIX_HEADER
  constexpr std::size_t kTail = 4;  // the CRC-32 after the payload
  if (file.size() < er::kModelHeaderBytes + kTail) return -1;  // not worth keeping in the corpus
  std::memcpy(file.data(), er::kModelMagic, sizeof er::kModelMagic);
  put_le(file, 16, file.size() - er::kModelHeaderBytes - kTail, 8);
  put_le(file, file.size() - kTail, er::crc32(file.data(), file.size() - kTail), 4);
#endif
  std::unique_ptr<er::Model> m;
  try {
    m = er::model_from_bytes(file.data(), file.size(), "fuzz");
  } catch (const er::Error&) {
    return 0;
  }
  exercise(*m);
  // Every model the reader accepts is one the writer can save, and that file loads again.
  const std::string saved = er::model_to_bytes(*m);
  const auto again = er::model_from_bytes(saved.data(), saved.size(), "resaved");
  FUZZ_CHECK(again->kind() == m->kind());
  FUZZ_CHECK(again->n_users() == m->n_users() && again->n_items() == m->n_items());
  FUZZ_CHECK(er::model_to_bytes(*again) == saved);
  return 0;
}
