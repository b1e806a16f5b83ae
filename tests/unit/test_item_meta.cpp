// Item metadata: loaders (generic CSV, MovieLens u.item / movies.dat / movies.csv, content
// vectors) and their errors, alignment to a model's items (cold rows), content features against
// hand-computed values, blending, cold-start serving, and the model file section.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "edgerec/edgerec.hpp"
#include "test_util.hpp"

using namespace edgerec;
using test::error_of;

namespace {

ItemMeta csv(const std::string& text, const ItemMetaOptions& o = {}) {
  return load_item_meta_from_memory(text, "items.csv", o);
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : "|") + x;
  return out;
}

// A tiny interaction set over items a..d (users u1..u4), implicit.
Interactions tiny_data() {
  Interactions d;
  auto add = [&](const char* u, const char* i) {
    d.rows.push_back({d.users.add(u), d.items.add(i), 1.0f, static_cast<std::int64_t>(d.rows.size())});
  };
  add("u1", "a"); add("u1", "b"); add("u2", "a"); add("u2", "c"); add("u3", "b"); add("u3", "c");
  add("u4", "a"); add("u4", "d"); add("u1", "c"); add("u2", "b");
  return d;
}

}  // namespace

TEST_CASE("generic csv metadata: header, types, multi-valued fields, quotes", "[item_meta]") {
  const ItemMeta m = csv(
      "item,title,genres,year,tags:cat,code:skip,rank:num\n"
      "1,\"Heat, Part One\",Action|Crime,1995,x,zz,3\n"
      "2,Quiet,Drama,,x|y|x,zz,\n"
      "\n"
      "3,Loud,,2001,,zz,1.5\n");
  REQUIRE(m.rows() == 3);
  CHECK(m.ids.id(0) == "1");
  CHECK(m.titles[0] == "Heat, Part One");
  REQUIRE(m.categorical.size() == 2);
  CHECK(m.categorical[0].name == "genres");
  CHECK(joined(m.values(m.categorical[0], 0)) == "Action|Crime");
  CHECK(m.values(m.categorical[0], 2).empty());
  // Repeated values count once.
  CHECK(joined(m.values(*m.field("tags"), 1)) == "x|y");
  REQUIRE(m.numeric.size() == 2);
  CHECK(m.numeric[0].name == "year");  // untyped, every value a number: numeric
  CHECK(m.numeric[0].values[0] == 1995.0f);
  CHECK(m.numeric[0].present[1] == 0);
  CHECK(m.numeric[1].name == "rank");
  CHECK(m.numeric[1].values[2] == 1.5f);
  CHECK(m.field("code") == nullptr);

  // Tab-delimited, id column by name, not first.
  CHECK(load_item_meta_from_memory("id,title\n1,A\n", "/some/dir/items.csv").source == "items.csv");  // no directories
  const ItemMeta t = csv("title\tmovieId\tgenres\nA\t7\tX|Y\n");
  CHECK(t.ids.id(0) == "7");
  CHECK(t.titles[0] == "A");
}

TEST_CASE("MovieLens item files are recognised", "[item_meta]") {
  // u.item: '|'-separated, ISO-8859-1 (0xE9 is e acute), 19 genre flags.
  const std::string uitem =
      "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
      "2|Caf\xE9 (1994)||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n";
  const ItemMeta u = load_item_meta_from_memory(uitem, "ml-100k/u.item");
  REQUIRE(u.rows() == 2);
  CHECK(u.titles[0] == "Toy Story (1995)");
  CHECK(joined(u.values(*u.field("genres"), 0)) == "Animation|Children's|Comedy");
  CHECK(u.titles[1] == "Caf\xC3\xA9 (1994)");
  CHECK(u.numeric[0].name == "year");
  CHECK(u.numeric[0].values[0] == 1995.0f);
  CHECK(u.numeric[0].present[1] == 0);

  const ItemMeta d = load_item_meta_from_memory("1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                                "2::Jumanji (1995)::Adventure\n",
                                                "movies.dat");
  CHECK(d.rows() == 2);
  CHECK(joined(d.values(*d.field("genres"), 0)) == "Animation|Children's|Comedy");
  CHECK(d.numeric[0].values[1] == 1995.0f);

  const ItemMeta c = load_item_meta_from_memory(
      "movieId,title,genres\n11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
      "12,Untitled,(no genres listed)\n",
      "ml-20m/movies.csv");
  CHECK(c.titles[0] == "American President, The (1995)");
  CHECK(c.values(*c.field("genres"), 1).empty());
  CHECK(c.numeric[0].present[1] == 0);
  CHECK(item_meta_format_name(ItemMetaFormat::ml100k_items) == std::string("ml100k-items"));
}

TEST_CASE("malformed metadata files: one clear error naming file, line and field", "[item_meta]") {
  CHECK(error_of([] { csv(""); }) == "items.csv: empty file, expected a header line naming the columns");
  CHECK(error_of([] { csv("id,title\n1,A\n1,B\n"); }) == "items.csv:3: field 'id': item '1' is listed twice");
  CHECK(error_of([] { csv("id,title,genres\n1,A\n"); }) == "items.csv:2: field 'line': has 2 fields, the header names 3");
  CHECK(error_of([] { csv("id,year:num\n1,abc\n"); }) == "items.csv:2: field 'year': 'abc' is not a number");
  CHECK(error_of([] { csv("id,year:int\n1,2\n"); }) == "items.csv:1: field 'year:int': unknown column type 'int' (id, title, cat, num or skip)");
  CHECK(error_of([] { csv("id,title\n1,\"A\n"); }).rfind("items.csv:2: field 'line': ", 0) == 0);
  CHECK(error_of([] { csv("id,title\n1,Caf\xE9\n"); }) == "items.csv:2: field 'line': is not valid UTF-8");
  CHECK(error_of([] { csv("id,title\n,A\n"); }) == "items.csv:2: field 'id': '' is empty");
  CHECK(error_of([] { csv("id,title\n"); }) == "items.csv: no items");
  CHECK(error_of([] { load_item_meta_from_memory("1|A|||x|0|0\n", "u.item"); }) ==
        "u.item:1: field 'line': has 7 fields, expected 24 (id|title|release date|video release date|IMDb URL|19 genre flags)");
  CHECK(error_of([] {
          load_item_meta_from_memory("1|A|||x|0|0|0|2|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n", "u.item");
        }) == "u.item:1: field 'Animation': genre flag '2' is not 0 or 1");
  CHECK(error_of([] { load_item_meta_from_memory("x1::A::B\n", "movies.dat"); }).rfind("movies.dat:1: field 'id': 'x1' ", 0) == 0);
  // MovieLens latest / 20M movies.csv (recognised by its header).
  const auto movies = [](const char* body) {
    return error_of([&] { load_item_meta_from_memory(std::string("movieId,title,genres\n") + body, "movies.csv"); });
  };
  CHECK(movies("1,A (1995)\n") == "movies.csv:2: field 'line': has 2 fields, expected 3 (id, title, genres)");
  CHECK(movies("1,A (1995),Comedy\n1,B,Drama\n") == "movies.csv:3: field 'id': item '1' is listed twice");
  CHECK(movies("x,\"A, The (1995)\",Comedy\n") == "movies.csv:2: field 'id': 'x' is not a non-negative integer");
  CHECK(movies("1,\"A (1995),Comedy\n") == "movies.csv:2: field 'line': unterminated quote");
  CHECK(error_of([] { load_item_meta(test::temp_dir("item_meta") + "/missing.csv"); }).find("missing.csv") != std::string::npos);

  ItemMeta m = csv("id,title\n1,A\n2,B\n");
  CHECK(error_of([&] { load_item_vectors_from_memory(m, "1,0.5,1\n2,0.5\n", "v.csv"); }) ==
        "v.csv:2: field 'line': has 1 floats, the first row has 2");
  CHECK(error_of([&] { load_item_vectors_from_memory(m, "1,0.5,x\n", "v.csv"); }) == "v.csv:1: field 'value 2': 'x' is not a number");
  CHECK(error_of([&] { load_item_vectors_from_memory(m, "1,0.5\n1,2\n", "v.csv"); }) == "v.csv:2: field 'id': item '1' is listed twice");
  CHECK(error_of([&] { load_item_vectors_from_memory(m, "1\n", "v.csv"); }) == "v.csv:1: field 'line': has no vector (expected id then floats)");
  CHECK(error_of([&] { load_item_vectors_from_memory(m, "", "v.csv"); }) == "v.csv: no vectors");
}

TEST_CASE("content vectors and alignment: the model's items first, cold items after", "[item_meta]") {
  ItemMeta m = csv("id,title,genres\nz,Zed,X\nb,Bee,X|Y\nq,Queue,Y\n");
  load_item_vectors_from_memory(m, "id v1 v2\nb 1 0\nnew 0 1\n", "vec.txt");  // header, space-separated
  REQUIRE(m.rows() == 4);  // "new" became an undescribed row
  CHECK(m.described[3] == 0);
  CHECK(m.has_vector[1] == 1);
  CHECK(m.has_vector[0] == 0);

  const Interactions d = tiny_data();  // items a, b, c, d
  ItemMetaReport r;
  const ItemMeta a = align_item_meta(m, d.items, &r);
  CHECK(r.rows == 4);
  CHECK(r.matched == 1);      // b
  CHECK(r.cold == 3);         // z, q, new
  CHECK(r.undescribed == 3);  // a, c, d
  REQUIRE(a.rows() == 7);
  for (index_t i = 0; i < d.n_items(); ++i) CHECK(a.ids.id(i) == d.items.id(i));
  CHECK(a.ids.id(4) == "z");
  CHECK(a.ids.id(5) == "q");
  CHECK(a.ids.id(6) == "new");
  CHECK(a.titles[1] == "Bee");
  CHECK(a.described[0] == 0);
  CHECK(joined(a.values(*a.field("genres"), 1)) == "X|Y");
  CHECK(a.vectors(1, 0) == 1.0f);
  CHECK(a.vectors(6, 1) == 1.0f);
  CHECK(a.has_vector[0] == 0);
}

TEST_CASE("content features are unit blocks; cosines match hand-computed values", "[item_meta]") {
  // genres: A {x, y}, B {x}, C {z}; size numeric 1, 2, 3 (mean 2, population std sqrt(2/3)).
  const ItemMeta m = csv("id,genres,size\nA,x|y,1\nB,x,2\nC,z,3\n");
  FeatureWeights only_cat;
  only_cat.numeric = 0;
  const ItemFeatures f(m, only_cat);
  REQUIRE(f.dims() == 4);  // x, y, z, size
  std::vector<float> cos(3);
  f.cosine(f.matrix().row(0).data(), cos.data());
  CHECK(cos[0] == Approx(1.0));
  CHECK(cos[1] == Approx(1.0 / std::sqrt(2.0)));
  CHECK(cos[2] == Approx(0.0));

  // With the numeric block: z(A) = -1.2247, z(B) = 0, z(C) = +1.2247 (one numeric field, so
  // no extra scaling); A = [1/sqrt2, 1/sqrt2, 0, -1.2247] / norm.
  const ItemFeatures g(m);
  const double z = 1.0 / std::sqrt(2.0 / 3.0);
  const double na = std::sqrt(1.0 + z * z);
  CHECK(g.matrix()(0, 0) == Approx(1.0 / std::sqrt(2.0) / na));
  CHECK(g.matrix()(0, 3) == Approx(-z / na));
  CHECK(g.matrix()(1, 3) == Approx(0.0).margin(1e-7));
  g.cosine(g.matrix().row(0).data(), cos.data());
  CHECK(cos[1] == Approx((1.0 / std::sqrt(2.0)) / na));  // B = [1, 0, 0, 0]
  CHECK(cos[2] == Approx((-z * z) / (na * na)));            // C = [0, 0, 1, z] / na

  // A description: "genres=x|y;size=1" is A's own vector.
  const std::vector<float> q = g.describe("genres=x|y; size=1");
  g.cosine(q.data(), cos.data());
  CHECK(cos[0] == Approx(1.0));
  CHECK(error_of([&] { g.describe("colour=red"); }) == "--features: unknown field 'colour' (the model's fields: genres, size)");
  CHECK(error_of([&] { g.describe("size=big"); }) == "--features: field 'size': 'big' is not a number");
  CHECK(error_of([&] { g.describe("genres"); }) == "--features: 'genres' is not field=value");
  // An unknown value matches nothing: the zero vector.
  const std::vector<float> none = g.describe("genres=w");
  for (const float x : none) CHECK(x == 0.0f);
}

TEST_CASE("blend_scores: z-scores weighted by n / (n + shrinkage)", "[item_meta]") {
  // Two model items (counts 0 and 30) and one cold row.
  const float collab[2] = {1.0f, 3.0f};            // mean 2, std 1
  const float content[3] = {0.0f, 0.5f, 1.0f};     // mean 0.5, std sqrt(1/6)
  std::vector<float> out(3);
  BlendOptions o;
  o.shrinkage = 10;
  blend_scores(collab, 2, content, 3, {0.0f, 30.0f}, o, out.data());
  const double ts = std::sqrt(1.0 / 6.0);
  CHECK(out[0] == Approx((0.0 - 0.5) / ts));                           // n = 0: content only
  CHECK(out[1] == Approx(0.75 * 1.0 + 0.25 * 0.0));                    // w = 30 / 40
  CHECK(out[2] == Approx((1.0 - 0.5) / ts));                           // cold row: content
  o.shrinkage = 0;
  blend_scores(collab, 2, content, 3, {0.0f, 30.0f}, o, out.data());
  CHECK(out[0] == Approx(-1.0));  // shrinkage 0: known items keep their collaborative z-score
}

TEST_CASE("cold start: cold items are reached by content; filters; popularity within a genre",
          "[item_meta]") {
  // Items 1..40 with interactions: genre G1 for odd ids, G2 for even ones; users like one genre.
  Interactions d;
  for (int u = 0; u < 30; ++u)
    for (int i = 1; i <= 40; ++i) {
      if ((i % 2 == 1) != (u % 2 == 0)) continue;
      if ((u * 7 + i * 3) % 4 == 0) continue;
      d.rows.push_back({d.users.add("u" + std::to_string(u)), d.items.add(std::to_string(i)), 1.0f,
                        static_cast<std::int64_t>(d.rows.size())});
    }
  std::string text = "id,title,genres\n";
  for (int i = 1; i <= 40; ++i) text += std::to_string(i) + ",T" + std::to_string(i) + "," + (i % 2 ? "G1" : "G2") + "\n";
  text += "new1,Fresh,G1\nnew2,Other,G2\n";
  auto model = make_model(ModelKind::ials);
  Hyper h;
  h.factors = 4;
  h.epochs = 4;
  h.seed = 1;
  auto backend = make_cpu_backend();
  model->fit(d, h, *backend);
  model->item_meta = std::make_shared<const ItemMeta>(align_item_meta(csv(text), model->items));
  ColdStart cs(*model);
  ColdStartOptions o;
  o.k = 25;
  // u0 likes G1 (odd items): with blending the cold G1 item ranks among the user's picks, the
  // cold G2 item does not.
  auto recs = cs.recommend("u0", o);
  auto pos = [&](const std::string& id) {
    for (std::size_t k = 0; k < recs.size(); ++k)
      if (recs[k].item == id) return static_cast<int>(k);
    return -1;
  };
  int first_g2 = static_cast<int>(recs.size());
  for (std::size_t k = 0; k < recs.size(); ++k)
    if (recs[k].item == "new2" || (recs[k].item != "new1" && std::stoi(recs[k].item) % 2 == 0))
      first_g2 = std::min(first_g2, static_cast<int>(k));
  CHECK(pos("new1") >= 0);
  CHECK(pos("new1") < first_g2);
  CHECK(pos("new2") > pos("new1"));
  // A new user who liked a cold item: similar items of its genre.
  recs = cs.recommend_for({{"new1", 1.0f}}, o);
  REQUIRE(!recs.empty());
  CHECK(std::stoi(recs[0].item) % 2 == 1);
  CHECK(pos("new1") < 0);  // seen
  // similar() of a cold item: the same-genre items, cosine 1.
  recs = cs.similar("new2", 3);
  for (const auto& r : recs) {
    CHECK(r.score == Approx(1.0f));
    CHECK((r.item == "new2" || r.item == "new1" || std::stoi(r.item) % 2 == 0));
  }
  recs = cs.similar_to("genres=G1", 2);
  CHECK(recs[0].score == Approx(1.0f));
  // Filter: a brand-new user, G2 only: the most popular G2 items, in popularity order.
  o.filter = "genres=G2";
  o.blend.shrinkage = 0;
  o.k = 5;
  recs = cs.recommend_for({}, o);
  REQUIRE(recs.size() == 5);
  for (std::size_t k = 0; k < recs.size(); ++k) {
    REQUIRE(model->items.find(recs[k].item) >= 0);
    CHECK(std::stoi(recs[k].item) % 2 == 0);
    if (k > 0)
      CHECK(model->item_popularity[static_cast<std::size_t>(model->items.find(recs[k - 1].item))] >=
            model->item_popularity[static_cast<std::size_t>(model->items.find(recs[k].item))]);
  }
  CHECK(error_of([&] { cs.filter_rows("colour=red"); }) == "filter: no categorical field 'colour' (the model's: genres)");
  CHECK(error_of([&] { cs.similar("nope", 3); }) == "unknown item id 'nope' (not in the model nor in its item metadata)");
  auto bare = make_model(ModelKind::popularity);
  bare->fit(d, h, *backend);
  CHECK(error_of([&] { ColdStart x(*bare); }).find("no item metadata") != std::string::npos);
}

TEST_CASE("item metadata survives the model file; damaged sections are refused", "[item_meta][model_file]") {
  const Interactions d = tiny_data();
  auto model = make_model(ModelKind::itemknn);
  Hyper h;
  h.seed = 1;
  auto backend = make_cpu_backend();
  model->fit(d, h, *backend);
  ItemMeta m = csv("id,title,genres,year\nb,Bee,X|Y,1990\nz,Zed,Y,\n");
  load_item_vectors_from_memory(m, "b,1,2\nz,3,4\n", "v.csv");
  model->item_meta = std::make_shared<const ItemMeta>(align_item_meta(m, model->items));
  const std::string bytes = model_to_bytes(*model);
  const auto back = model_from_bytes(bytes.data(), bytes.size());
  REQUIRE(back->item_meta);
  const ItemMeta& b = *back->item_meta;
  CHECK(b.rows() == 5);
  CHECK(b.ids.id(4) == "z");
  CHECK(b.titles == model->item_meta->titles);
  CHECK(b.described == model->item_meta->described);
  CHECK(b.numeric[0].present == model->item_meta->numeric[0].present);
  CHECK(b.vectors == model->item_meta->vectors);
  CHECK(b.has_vector == model->item_meta->has_vector);
  CHECK(b.categorical[0].codes == model->item_meta->categorical[0].codes);
  CHECK(b.source == "items.csv");
  // Every truncation is an Error (the checksum, then the bounds of the section's fields).
  for (std::size_t n = 0; n < bytes.size(); n += 7) CHECK_THROWS_AS(model_from_bytes(bytes.data(), n), Error);
  // drop_users() keeps it.
  back->drop_users();
  CHECK(back->item_meta);

  // Metadata that does not start with the model's items, or is inconsistent, is never saved.
  auto wrong = std::make_shared<ItemMeta>(m);
  model->item_meta = wrong;
  CHECK(error_of([&] { model_to_bytes(*model); }).find("first rows are not the model's items") != std::string::npos);
  auto broken = std::make_shared<ItemMeta>(align_item_meta(m, model->items));
  broken->categorical[0].codes[0] = 99;
  model->item_meta = broken;
  CHECK(error_of([&] { model_to_bytes(*model); }).rfind("cannot save the model: item metadata: field 'genres'", 0) == 0);
}

TEST_CASE("real data: MovieLens 100K u.item and ML-1M movies.dat", "[item_meta][realdata]") {
  const std::string items = test::shared_data("ml-100k/u.item");
  const std::string ratings = test::shared_data("ml-100k/u.data");
  EDGEREC_SKIP_IF_NO_DATA(items, "ml-100k/u.item");
  EDGEREC_SKIP_IF_NO_DATA(ratings, "ml-100k/u.data");
  CHECK(item_meta_format(items) == ItemMetaFormat::ml100k_items);
  const ItemMeta m = load_item_meta(items);
  REQUIRE(m.rows() == 1682);
  CHECK(m.titles[0] == "Toy Story (1995)");
  CHECK(joined(m.values(*m.field("genres"), 0)) == "Animation|Children's|Comedy");
  CHECK(m.field("genres")->vocabulary.size() == 19);
  // Latin-1 titles arrive as UTF-8 (item 1633: "Á köldum klaka (Cold Fever) (1994)").
  const std::int64_t r = m.find("1633");
  REQUIRE(r >= 0);
  CHECK(m.titles[static_cast<std::size_t>(r)].rfind("\xC3\x81 k\xC3\xB6ldum klaka", 0) == 0);

  // Item 1 (Toy Story) with all its interactions removed is a cold item: content still ranks
  // items sharing its three genres first.
  Interactions d = load_interactions(ratings);
  const auto toy = d.items.at("1", "item");
  d.rows.erase(std::remove_if(d.rows.begin(), d.rows.end(), [&](const Interaction& x) { return x.item == toy; }), d.rows.end());
  clean_interactions(d, {}, nullptr);
  REQUIRE(d.items.find("1") < 0);
  auto model = make_model(ModelKind::popularity);
  auto backend = make_cpu_backend();
  model->fit(d, Hyper{}, *backend);
  ItemMetaReport rep;
  model->item_meta = std::make_shared<const ItemMeta>(align_item_meta(m, model->items, &rep));
  CHECK(rep.cold == 1);
  CHECK(rep.matched == 1681);
  ColdStart cs(*model);
  const auto sim = cs.similar("1", 5);
  REQUIRE(sim.size() == 5);
  const auto& meta = *model->item_meta;
  // Each shares at least two of its three genres (year is the other feature), the first all three.
  for (std::size_t k = 0; k < sim.size(); ++k) {
    const auto row = static_cast<index_t>(meta.find(sim[k].item));
    int shared = 0;
    for (const auto& g : meta.values(*meta.field("genres"), row))
      shared += g == "Animation" || g == "Children's" || g == "Comedy";
    CHECK(shared >= (k == 0 ? 3 : 2));
  }
  // A new user who liked Toy Story gets it nowhere (seen) but is served from it.
  ColdStartOptions o;
  const auto recs = cs.recommend_for({{"1", 5.0f}}, o);
  CHECK(recs.size() == 10);

  const std::string movies = test::shared_data("ml-1m/movies.dat");
  EDGEREC_SKIP_IF_NO_DATA(movies, "ml-1m/movies.dat");
  const ItemMeta ml1m = load_item_meta(movies);
  CHECK(ml1m.rows() == 3883);
  CHECK(ml1m.field("genres")->vocabulary.size() == 18);
}

TEST_CASE("real data: MovieLens 100K u.user and ML-1M users.dat", "[item_meta][user_meta][realdata]") {
  const std::string uuser = test::shared_data("ml-100k/u.user");
  const std::string users_dat = test::shared_data("ml-1m/users.dat");
  EDGEREC_SKIP_IF_NO_DATA(uuser, "ml-100k/u.user");
  EDGEREC_SKIP_IF_NO_DATA(users_dat, "ml-1m/users.dat");
  CHECK(user_meta_format(uuser) == ItemMetaFormat::ml100k_users);
  const UserMeta u = load_user_meta(uuser);
  REQUIRE(u.rows() == 943);
  CHECK(u.field("gender")->vocabulary.size() == 2);
  CHECK(u.field("occupation")->vocabulary.size() == 21);
  const auto& age = u.numeric.at(0).values;
  CHECK(*std::min_element(age.begin(), age.end()) == 7.0f);
  CHECK(*std::max_element(age.begin(), age.end()) == 73.0f);
  std::size_t women = 0;
  for (index_t r = 0; r < u.rows(); ++r) women += u.values(*u.field("gender"), r) == std::vector<std::string>{"F"};
  CHECK(women == 273);
  CHECK(user_meta_format(users_dat) == ItemMetaFormat::ml1m_users);
  const UserMeta d = load_user_meta(users_dat);
  CHECK(d.rows() == 6040);
  CHECK(d.field("occupation")->vocabulary.size() == 21);
  CHECK(d.numeric.at(0).values[1] == 56.0f);  // user 2: the 56+ bucket
}

TEST_CASE("metadata loaders on garbage: an Error or a consistent ItemMeta, never a crash", "[item_meta]") {
  // Seeded mutations of valid files of every format (bytes replaced, cut, duplicated).
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"items.csv", "item,title,genres,year\n1,\"A, b\",X|Y,1990\n2,B,,\n"},
      {"u.item", "1|Toy Story (1995)|01-Jan-1995||u|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"},
      {"movies.dat", "1::Toy Story (1995)::Animation|Comedy\n"},
      {"movies.csv", "movieId,title,genres\n1,\"T, The (1995)\",A|B\n"},
  };
  Rng rng(11);
  const std::string alphabet = ",|:\"\n\r\t 0123456789abc\xC3\xE9";
  for (const auto& [name, good] : seeds) {
    for (int t = 0; t < 400; ++t) {
      std::string s = good;
      const int edits = 1 + static_cast<int>(rng.below(4));
      for (int e = 0; e < edits && !s.empty(); ++e) {
        const std::size_t at = rng.below(s.size());
        switch (rng.below(3)) {
          case 0: s[at] = alphabet[rng.below(alphabet.size())]; break;
          case 1: s.erase(at, 1 + rng.below(5)); break;
          default: s.insert(at, s.substr(at, 1 + rng.below(8))); break;
        }
      }
      INFO(name << ": " << s);
      try {
        const ItemMeta m = load_item_meta_from_memory(s, name);
        REQUIRE_NOTHROW(m.check());
        ItemMeta v = m;
        load_item_vectors_from_memory(v, s, "v.csv");
        REQUIRE_NOTHROW(v.check());
      } catch (const Error&) {
      }
    }
  }
}

// ---- User features ------------------------------------------------------------------------------

TEST_CASE("user-feature files: MovieLens u.user and users.dat, generic csv, alignment", "[item_meta][user_meta]") {
  const UserMeta u = load_user_meta_from_memory("1|24|M|technician|85711\n2|53|F|other|94043\n007|23|M|writer|T8H1N\n",
                                                "ml-100k/u.user");
  REQUIRE(u.rows() == 3);
  CHECK(u.ids.id(2) == "7");  // canonical ids, as the interaction loader makes them
  CHECK(joined(u.values(*u.field("gender"), 1)) == "F");
  CHECK(joined(u.values(*u.field("occupation"), 0)) == "technician");
  REQUIRE(u.numeric.size() == 1);
  CHECK(u.numeric[0].name == "age");
  CHECK(u.numeric[0].values[1] == 53.0f);
  CHECK(u.categorical.size() == 2);  // the zip code is not read
  CHECK(u.source == "u.user");
  const std::string dir = test::temp_dir("user_meta");
  {
    std::ofstream(dir + "/u.user") << "1|24|M|technician|85711\n";
    std::ofstream(dir + "/people.txt") << "1::F::1::10::48067\n";
  }
  CHECK(user_meta_format(dir + "/u.user") == ItemMetaFormat::ml100k_users);
  CHECK(user_meta_format(dir + "/people.txt") == ItemMetaFormat::ml1m_users);
  CHECK(load_user_meta(dir + "/u.user").rows() == 1);
  CHECK(item_meta_format_name(ItemMetaFormat::ml1m_users) == std::string("ml1m-users"));

  const UserMeta d = load_user_meta_from_memory("1::F::1::10::48067\n2::M::56::16::70072\n", "users.dat");
  REQUIRE(d.rows() == 2);
  CHECK(joined(d.values(*d.field("gender"), 0)) == "F");
  CHECK(joined(d.values(*d.field("occupation"), 1)) == "16");
  CHECK(d.numeric[0].values[1] == 56.0f);

  // Generic csv: the user id column found by name, types as for item metadata.
  const UserMeta c = load_user_meta_from_memory("segment,userId,age,langs\nA,u2,30,en|fr\nB,u1,,de\n", "users.csv");
  CHECK(c.ids.id(0) == "u2");
  CHECK(joined(c.values(*c.field("langs"), 0)) == "en|fr");
  CHECK(c.numeric[0].present[1] == 0);

  // Aligned to a model's users: exactly one row per user, in its order; unknown users dropped,
  // users the file lacks undescribed (no value, so a zero feature row).
  IdMap users;
  users.add("u1");
  users.add("u3");
  ItemMetaReport r;
  const UserMeta a = align_user_meta(c, users, &r);
  REQUIRE(a.rows() == 2);
  CHECK(a.ids.id(1) == "u3");
  CHECK(a.described[0] == 1);
  CHECK(a.described[1] == 0);
  CHECK(joined(a.values(*a.field("segment"), 0)) == "B");
  CHECK(a.values(*a.field("segment"), 1).empty());
  CHECK(r.matched == 1);
  CHECK(r.cold == 1);  // u2: no interactions
  CHECK(r.undescribed == 1);
  const ItemFeatures f(a);
  CHECK(f.matrix().row(1).norm() == 0.0f);
  CHECK(f.matrix().row(0).norm() == Approx(1.0f));
}

TEST_CASE("malformed user-feature files: one clear error naming file, line and field", "[item_meta][user_meta]") {
  auto uuser = [](const std::string& text) { return load_user_meta_from_memory(text, "u.user"); };
  CHECK(error_of([&] { uuser("1|24|M|technician\n"); }) ==
        "u.user:1: field 'line': has 4 fields, expected 5 (user id|age|gender|occupation|zip code)");
  CHECK(error_of([&] { uuser("1|24|M|x|1\n2|old|F|x|1\n"); }) == "u.user:2: field 'age': 'old' is not an age in years (0..150)");
  CHECK(error_of([&] { uuser("1|24|M|x|1\n2|400|F|x|1\n"); }) == "u.user:2: field 'age': '400' is not an age in years (0..150)");
  CHECK(error_of([&] { uuser("1|24|X|x|1\n"); }) == "u.user:1: field 'gender': 'X' is not M or F");
  CHECK(error_of([&] { uuser("1|24|M||1\n"); }) == "u.user:1: field 'occupation': is empty");
  CHECK(error_of([&] { uuser("1|24|M|x|1\n01|30|F|y|2\n"); }) == "u.user:2: field 'id': user '1' is listed twice");
  CHECK(error_of([&] { uuser("a|24|M|x|1\n"); }).rfind("u.user:1: field 'id': 'a' ", 0) == 0);
  CHECK(error_of([&] { uuser("\n"); }) == "u.user: no users");
  CHECK(error_of([] { load_user_meta_from_memory("1::F::1::10\n", "users.dat"); }) ==
        "users.dat:1: field 'line': has 4 fields, expected 5 (UserID::Gender::Age::Occupation::Zip-code)");
  CHECK(error_of([] { load_user_meta_from_memory("user,age:num\nu1,3\nu2,x\n", "users.csv"); }) ==
        "users.csv:3: field 'age': 'x' is not a number");
  CHECK(error_of([] { load_user_meta_from_memory("user,age\nu1,3\nu1,4\n", "users.csv"); }) ==
        "users.csv:3: field 'id': user 'u1' is listed twice");
  CHECK(error_of([] { load_user_meta_from_memory("user,age\n", "users.csv"); }) == "users.csv: no users");
  // The two kinds of file are not confused.
  CHECK(error_of([] { load_item_meta_from_memory("1|24|M|x|1\n", "u.user"); }) ==
        "u.user: a user-feature file (ml100k-users), not item metadata");
  ItemMetaOptions o;
  o.format = ItemMetaFormat::ml100k_items;
  CHECK(error_of([&] { load_user_meta_from_memory("1|24|M|x|1\n", "x.txt", o); }) ==
        "x.txt: ml100k-items is an item metadata format, not a user-feature file");
}
