// The seeded synthetic catalogue and the CSV writer.
//
// Model: genres and taste clusters are unit vectors in a small latent space. An item's vector is
// the mean of its genres' vectors plus noise; a cluster's centre leans towards two genres; a
// user's vector is its cluster centre plus noise. A user's items are drawn without replacement,
// mostly from its cluster's distribution (Zipf popularity x exp(beta * centre . item)), partly
// from its favourite genre and from plain popularity. Ratings follow the user-item affinity plus
// user and item biases and noise, so a factor model has real signal to find, popularity a strong
// but beatable baseline.
//
// Portability: only IEEE basic operations are used on the data path (exp/log are computed here,
// normals are Irwin-Hall sums), because libm's exp/log/cos may differ in the last bit between
// platforms and the header promises the same catalogue everywhere. For the same reason a*b+c
// must not be fused into one FMA on machines that have it (GCC fuses by default in C++ mode,
// clang within expressions): the rounding would differ from wasm's and non-FMA CPUs'.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "edgerec/data.hpp"
#include "edgerec/model_file.hpp"  // write_atomically
#include "edgerec/split.hpp"
#include "text.hpp"

namespace edgerec {
namespace {

constexpr int kDim = 16;
constexpr double kClusterBeta = 8.0;  // how sharply a cluster prefers items near its centre
constexpr double kFromCluster = 0.75, kFromGenre = 0.15;  // the rest: plain popularity
constexpr std::int64_t kEpoch = 946684800;                 // 2000-01-01, first timestamps

// exp(x) with range reduction by ln 2 and a Taylor polynomial (|r| <= ln2/2, 14 terms: ~1 ulp).
double det_exp(double x) {
  if (x > 700) x = 700;
  if (x < -700) return 0.0;
  const double ln2 = 0.6931471805599453;
  const double k = std::floor(x / ln2 + 0.5);
  const double r = x - k * ln2;
  double term = 1.0, sum = 1.0;
  for (int n = 1; n <= 14; ++n) {
    term = term * r / n;
    sum += term;
  }
  return std::ldexp(sum, static_cast<int>(k));
}

// log(x), x > 0: frexp, then the atanh series on a mantissa in [sqrt(1/2), sqrt(2)).
double det_log(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  if (m < 0.7071067811865476) {
    m *= 2;
    --e;
  }
  const double s = (m - 1) / (m + 1), s2 = s * s;
  double term = s, sum = 0;
  for (int n = 1; n <= 23; n += 2) {
    sum += term / n;
    term *= s2;
  }
  return 2 * sum + e * 0.6931471805599453;
}

// Approximately standard normal: Irwin-Hall sum of 12 uniforms (bounded at +-6, which suits
// synthetic noise) built from basic arithmetic only.
double det_normal(Rng& rng) {
  double s = 0;
  for (int k = 0; k < 12; ++k) s += rng.uniform();
  return s - 6.0;
}

using Vec = std::array<double, kDim>;

Vec random_unit(Rng& rng) {
  Vec v;
  for (double& x : v) x = det_normal(rng);
  double n = 0;
  for (double x : v) n += x * x;
  n = std::sqrt(n);
  for (double& x : v) x /= n;
  return v;
}

void normalize(Vec& v) {
  double n = 0;
  for (double x : v) n += x * x;
  n = std::sqrt(n);
  if (n > 0)
    for (double& x : v) x /= n;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (int k = 0; k < kDim; ++k) s += a[k] * b[k];
  return s;
}

// Cumulative weights for drawing an index by binary search.
struct Cdf {
  std::vector<double> cum;
  index_t draw(Rng& rng) const {
    const double target = rng.uniform() * cum.back();
    const auto it = std::upper_bound(cum.begin(), cum.end(), target);
    return static_cast<index_t>(std::min<std::size_t>(it - cum.begin(), cum.size() - 1));
  }
};

template <class W>
Cdf make_cdf(index_t n, W weight) {
  Cdf c;
  c.cum.resize(n);
  double run = 0;
  for (index_t i = 0; i < n; ++i) {
    run += weight(i);
    c.cum[i] = run;
  }
  return c;
}

const char* const kGenreNames[] = {
    "Drama",  "Comedy",   "Action",    "Thriller",    "Romance", "Adventure",
    "Crime",  "Sci-Fi",   "Horror",    "Children's",  "War",     "Mystery",
    "Fantasy", "Musical", "Animation", "Documentary", "Western", "Film-Noir"};
constexpr int kNamedGenres = sizeof kGenreNames / sizeof kGenreNames[0];

const char* const kAdjectives[] = {
    "Silent",  "Crimson", "Hidden",  "Broken",  "Golden",   "Last",    "Distant", "Frozen",
    "Wild",    "Secret",  "Burning", "Hollow",  "Midnight", "Electric", "Lonely", "Shattered",
    "Endless", "Quiet",   "Savage",  "Velvet",  "Iron",     "Paper",   "Glass",   "Northern",
    "Lost",    "Bright",  "Dark",    "Summer",  "Winter",   "Final",   "Little",  "Restless"};
const char* const kNouns[] = {
    "Harbor",  "River",   "Empire",  "Garden",  "Horizon", "Promise", "Frontier", "Mirror",
    "Station", "Kingdom", "Letter",  "Voyage",  "Island",  "Shadow",  "Engine",   "Orchard",
    "Signal",  "Canyon",  "Witness", "Lantern", "Carnival", "Divide", "Storm",    "Compass",
    "Tide",    "Crown",   "Ballad",  "Machine", "Forest",  "Detective", "Heart",  "City"};

std::string title_for(Rng& rng, std::map<std::string, int>& used) {
  const std::size_t na = sizeof kAdjectives / sizeof kAdjectives[0];
  const std::size_t nn = sizeof kNouns / sizeof kNouns[0];
  std::string t;
  if (rng.below(4) == 0) t = "The ";
  t += kAdjectives[rng.below(na)];
  t += ' ';
  t += kNouns[rng.below(nn)];
  const int n = ++used[t];
  if (n > 1) t += " " + std::to_string(n);  // sequels keep titles unique
  t += " (" + std::to_string(1950 + rng.below(70)) + ")";
  return t;
}

void check(const SyntheticOptions& o) {
  const auto bad = [](const std::string& what) { throw Error("synthetic: " + what); };
  if (o.users < 1 || o.items < 1) bad("users and items must be at least 1");
  if (o.clusters < 1 || o.clusters > 1024) bad("clusters must be in 1..1024");
  if (o.genres < 1 || o.genres > 64) bad("genres must be in 1..64");
  if (!(o.popularity_exponent >= 0 && o.popularity_exponent <= 10)) {
    bad("popularity exponent must be in [0, 10]");
  }
  const std::uint64_t floor_n = std::max<std::uint64_t>(o.users, o.items);
  if (o.interactions < floor_n) {
    bad("interactions must be at least max(users, items) = " + std::to_string(floor_n) +
        " so every user and item appears");
  }
  const double cells = static_cast<double>(o.users) * static_cast<double>(o.items);
  if (static_cast<double>(o.interactions) > cells) {
    bad("interactions exceed users x items, so pairs would repeat");
  }
  if (o.interactions > (std::uint64_t(1) << 31)) bad("at most 2^31 interactions");
}

// Interactions per user: at least 1, at most `cap`, heavy-tailed (log-normal activity), summing
// to exactly `total` (largest remainders, then round-robin over users with room).
std::vector<std::uint64_t> allocate(const std::vector<double>& weight, std::uint64_t total,
                                    std::uint64_t cap) {
  const std::size_t n = weight.size();
  std::vector<std::uint64_t> count(n, 1);
  double wsum = 0;
  for (double w : weight) wsum += w;
  const std::uint64_t rest = total - n;
  std::uint64_t given = 0;
  std::vector<std::pair<double, std::size_t>> frac(n);
  for (std::size_t u = 0; u < n; ++u) {
    const double share = static_cast<double>(rest) * weight[u] / wsum;
    const std::uint64_t whole = static_cast<std::uint64_t>(std::floor(share));
    count[u] += whole;
    given += whole;
    frac[u] = {share - static_cast<double>(whole), u};
  }
  // Rounding could in theory hand out one too many; take it back from the busiest users.
  while (given > rest) {
    --*std::max_element(count.begin(), count.end());
    --given;
  }
  std::sort(frac.begin(), frac.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (std::size_t k = 0; given < rest; k = (k + 1) % n, ++given) ++count[frac[k].second];
  std::uint64_t excess = 0;
  for (std::uint64_t& c : count) {
    if (c > cap) {
      excess += c - cap;
      c = cap;
    }
  }
  for (std::size_t k = 0; excess > 0; k = (k + 1) % n) {
    const std::size_t u = frac[k].second;
    if (count[u] < cap) {
      ++count[u];
      --excess;
    }
  }
  return count;
}

std::string csv_field(std::string_view s) {
  const bool quote = s.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!s.empty() && (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' ||
                                     s.back() == '\t'));
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

SyntheticCatalogue generate_synthetic(const SyntheticOptions& o) {
  check(o);
  const index_t U = o.users, I = o.items;
  const int G = o.genres, C = o.clusters;
  SyntheticCatalogue cat;

  // Genres: names, latent directions and base frequencies (Drama and Comedy most common).
  Rng grng(mix_seed(o.seed, 1));
  std::vector<Vec> genre_vec(G);
  std::vector<double> genre_weight(G);
  for (int g = 0; g < G; ++g) {
    cat.genre_names.push_back(g < kNamedGenres ? kGenreNames[g] : "Genre " + std::to_string(g + 1));
    genre_vec[g] = random_unit(grng);
    genre_weight[g] = 1.0 / (1.0 + 0.35 * g);
  }

  // Items: 1..3 genres, a latent vector, a quality bias, a Zipf popularity on a shuffled rank.
  std::vector<Vec> item_vec(I);
  std::vector<double> item_bias(I), pop(I);
  cat.item_genres.resize(I);
  {
    std::vector<index_t> rank(I);
    for (index_t i = 0; i < I; ++i) rank[i] = i;
    shuffle(rank, grng);
    const Cdf genre_cdf = make_cdf(static_cast<index_t>(G), [&](index_t g) { return genre_weight[g]; });
    for (index_t i = 0; i < I; ++i) {
      const double r = grng.uniform();
      const int want = std::min(G, r < 0.5 ? 1 : r < 0.85 ? 2 : 3);
      std::vector<int>& gs = cat.item_genres[i];
      while (static_cast<int>(gs.size()) < want) {
        const int g = static_cast<int>(genre_cdf.draw(grng));
        if (std::find(gs.begin(), gs.end(), g) == gs.end()) gs.push_back(g);
      }
      std::sort(gs.begin(), gs.end());
      Vec v{};
      for (int g : gs)
        for (int k = 0; k < kDim; ++k) v[k] += genre_vec[g][k] / gs.size();
      for (int k = 0; k < kDim; ++k) v[k] += 0.5 * det_normal(grng) / 4.0;  // |noise| ~ 0.5
      normalize(v);
      item_vec[i] = v;
      item_bias[i] = 0.45 * det_normal(grng);
      pop[i] = det_exp(-o.popularity_exponent * det_log(1.0 + rank[i]));
    }
  }

  // Clusters lean towards two genres each; users are their cluster's centre plus noise.
  Rng urng(mix_seed(o.seed, 2));
  std::vector<Vec> centre(C);
  for (int c = 0; c < C; ++c) {
    const int g1 = static_cast<int>(urng.below(G));
    const int g2 = static_cast<int>(urng.below(G));
    Vec v{};
    for (int k = 0; k < kDim; ++k) {
      v[k] = genre_vec[g1][k] + 0.6 * genre_vec[g2][k] + 0.7 * det_normal(urng) / 4.0;
    }
    normalize(v);
    centre[c] = v;
  }
  std::vector<Vec> user_vec(U);
  std::vector<int> cluster(U), favourite(U);
  std::vector<double> user_bias(U), activity(U);
  for (index_t u = 0; u < U; ++u) {
    cluster[u] = static_cast<int>(urng.below(C));
    Vec v = centre[cluster[u]];
    for (int k = 0; k < kDim; ++k) v[k] += 0.45 * det_normal(urng) / 4.0;
    normalize(v);
    user_vec[u] = v;
    user_bias[u] = 0.35 * det_normal(urng);
    activity[u] = det_exp(0.9 * det_normal(urng));
    int best = 0;
    for (int g = 1; g < G; ++g)
      if (dot(v, genre_vec[g]) > dot(v, genre_vec[best])) best = g;
    favourite[u] = best;
  }

  // Sampling distributions over items.
  std::vector<Cdf> cluster_cdf(C), genre_cdf(G);
  for (int c = 0; c < C; ++c) {
    cluster_cdf[c] = make_cdf(I, [&](index_t i) {
      return pop[i] * det_exp(kClusterBeta * dot(centre[c], item_vec[i]));
    });
  }
  for (int g = 0; g < G; ++g) {
    genre_cdf[g] = make_cdf(I, [&](index_t i) {
      const auto& gs = cat.item_genres[i];
      return pop[i] * (std::find(gs.begin(), gs.end(), g) != gs.end() ? 1.0 : 0.02);
    });
  }
  const Cdf pop_cdf = make_cdf(I, [&](index_t i) { return pop[i]; });

  Interactions& data = cat.data;
  data.users.reserve(U);
  data.items.reserve(I);
  for (index_t u = 0; u < U; ++u) data.users.add(std::to_string(u + 1));
  for (index_t i = 0; i < I; ++i) data.items.add(std::to_string(i + 1));
  data.has_ratings = o.ratings;
  data.has_time = true;
  data.source = "synthetic(users=" + std::to_string(U) + ",items=" + std::to_string(I) +
                ",interactions=" + std::to_string(o.interactions) + ",seed=" +
                std::to_string(o.seed) + ")";

  Rng rrng(mix_seed(o.seed, 3));
  const auto rating = [&](index_t u, index_t i) -> float {
    if (!o.ratings) return 1.0f;
    const double z = 3.1 + 1.6 * dot(user_vec[u], item_vec[i]) + item_bias[i] + user_bias[u] +
                     0.55 * det_normal(rrng);
    return static_cast<float>(std::min(5.0, std::max(1.0, std::floor(z + 0.5))));
  };

  // Draw each user's items without replacement, in time order.
  const std::vector<std::uint64_t> per_user = allocate(activity, o.interactions, I);
  Rng srng(mix_seed(o.seed, 4));
  std::vector<index_t> mark(I, std::numeric_limits<index_t>::max());
  data.rows.reserve(o.interactions);
  for (index_t u = 0; u < U; ++u) {
    const std::uint64_t want = per_user[u];
    std::int64_t t = kEpoch + static_cast<std::int64_t>(srng.below(3u * 365 * 86400));
    std::uint64_t got = 0, tries = 0;
    const std::uint64_t max_tries = 30 * want + 100;
    const auto take = [&](index_t i) {
      mark[i] = u;
      t += 1 + static_cast<std::int64_t>(srng.below(2 * 86400));
      data.rows.push_back({u, i, 0.0f, t});
      ++got;
    };
    while (got < want && tries < max_tries) {
      ++tries;
      const double r = srng.uniform();
      const index_t i = r < kFromCluster ? cluster_cdf[cluster[u]].draw(srng)
                        : r < kFromCluster + kFromGenre ? genre_cdf[favourite[u]].draw(srng)
                                                        : pop_cdf.draw(srng);
      if (mark[i] != u) take(i);
    }
    // Very active users in a small catalogue: fill the rest with items they have not seen.
    index_t next = static_cast<index_t>(srng.below(I));
    while (got < want) {
      if (mark[next] != u) take(next);
      next = (next + 1) % I;
    }
  }

  // Every item appears: give each unseen item a row taken from an item seen at least twice
  // (that row's user never had the unseen item, so no pair repeats; the count stays exact).
  {
    std::vector<std::uint64_t> count(I, 0);
    for (const Interaction& x : data.rows) ++count[x.item];
    Rng crng(mix_seed(o.seed, 6));
    const std::size_t n = data.rows.size();
    for (index_t m = 0; m < I; ++m) {
      if (count[m] > 0) continue;
      std::size_t r = crng.below(n);
      for (int attempt = 0; attempt < 64 && count[data.rows[r].item] < 2; ++attempt) {
        r = crng.below(n);
      }
      while (count[data.rows[r].item] < 2) r = (r + 1) % n;
      --count[data.rows[r].item];
      data.rows[r].item = m;
      count[m] = 1;
    }
  }
  for (Interaction& x : data.rows) x.value = rating(x.user, x.item);
  if (o.ratings) {
    data.has_ratings = std::any_of(data.rows.begin(), data.rows.end(),
                                   [](const Interaction& x) { return x.value != 1.0f; });
  }

  Rng trng(mix_seed(o.seed, 5));
  std::map<std::string, int> used;
  cat.item_titles.reserve(I);
  for (index_t i = 0; i < I; ++i) cat.item_titles.push_back(title_for(trng, used));
  return cat;
}

void write_csv(const Interactions& data, const std::string& path) {
  std::string out = "user,item,rating,timestamp\n";
  out.reserve(data.rows.size() * 24 + out.size());
  char buf[64];
  for (const Interaction& x : data.rows) {
    if (x.user >= data.n_users() || x.item >= data.n_items()) {
      throw Error(path + ": interaction refers to an index outside the id maps");
    }
    out += csv_field(data.users.id(x.user));
    out += ',';
    out += csv_field(data.items.id(x.item));
    out += ',';
    // Whole star ratings (the common case) skip the general float formatting.
    if (x.value == std::floor(x.value) && std::fabs(x.value) < 1e6f) {
      out.append(buf, std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(x.value)).ptr);
    } else {
      out += text::format_float(x.value);
    }
    out += ',';
    out.append(buf, std::to_chars(buf, buf + sizeof buf, x.time).ptr);
    out += '\n';
  }
  write_atomically(path, out);
}

void write_csv(const SyntheticCatalogue& catalogue, const std::string& path) {
  const std::string_view base = text::base_name(path);
  if (base == "items.csv") throw Error(path + ": the ratings file cannot be named items.csv");
  const std::string items_path = path.substr(0, path.size() - base.size()) + "items.csv";
  const Interactions& data = catalogue.data;
  if (catalogue.item_titles.size() != data.n_items() ||
      catalogue.item_genres.size() != data.n_items()) {
    throw Error(items_path + ": catalogue has titles/genres for a different number of items");
  }
  std::string out = "item,title,genres\n";
  for (index_t i = 0; i < data.n_items(); ++i) {
    std::string genres;
    for (int g : catalogue.item_genres[i]) {
      if (g < 0 || static_cast<std::size_t>(g) >= catalogue.genre_names.size()) {
        throw Error(items_path + ": genre index out of range");
      }
      if (!genres.empty()) genres += '|';
      genres += catalogue.genre_names[g];
    }
    out += csv_field(data.items.id(i)) + ',' + csv_field(catalogue.item_titles[i]) + ',' +
           csv_field(genres) + '\n';
  }
  write_csv(data, path);
  write_atomically(items_path, out);
}

}  // namespace edgerec
