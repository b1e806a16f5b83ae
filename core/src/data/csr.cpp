// Compressed sparse rows from coordinate interactions.
#include <algorithm>
#include <string>

#include "edgerec/data.hpp"

namespace edgerec {
namespace {

// Builds rows from (row, col, value) triples in file order: a stable counting sort by row, then
// each row sorted by column. A (row, col) pair that occurs more than once (data loaded with
// DuplicatePolicy::keep) is stored once, with the value of its last occurrence in file order,
// so every row stays strictly increasing and contains() stays a plain binary search.
template <class RowOf, class ColOf>
Csr build(const Interactions& data, index_t n_rows, index_t n_cols, RowOf row_of, ColOf col_of,
          const char* row_what, const char* col_what) {
  Csr out;
  out.cols = n_cols;
  out.indptr.assign(static_cast<std::size_t>(n_rows) + 1, 0);
  for (const Interaction& x : data.rows) {
    const index_t r = row_of(x), c = col_of(x);
    if (r >= n_rows || c >= n_cols) {
      throw Error(std::string("interaction refers to ") + (r >= n_rows ? row_what : col_what) +
                  " index " + std::to_string(r >= n_rows ? r : c) + " outside the id map (" +
                  std::to_string(r >= n_rows ? n_rows : n_cols) + " ids)");
    }
    ++out.indptr[r + 1];
  }
  for (index_t r = 0; r < n_rows; ++r) out.indptr[r + 1] += out.indptr[r];

  // Scatter (col, file position) so that ties in a row keep file order after sorting.
  struct Entry {
    index_t col;
    float value;
  };
  std::vector<Entry> entries(data.rows.size());
  std::vector<std::uint64_t> fill(out.indptr.begin(), out.indptr.end() - 1);
  for (const Interaction& x : data.rows) entries[fill[row_of(x)]++] = {col_of(x), x.value};

  out.indices.resize(entries.size());
  out.values.resize(entries.size());
  std::uint64_t write = 0;
  std::vector<std::uint64_t> new_ptr(out.indptr.size(), 0);
  for (index_t r = 0; r < n_rows; ++r) {
    Entry* b = entries.data() + out.indptr[r];
    Entry* e = entries.data() + out.indptr[r + 1];
    bool sorted = true;
    for (Entry* p = b; p + 1 < e; ++p) {
      if (p[0].col >= p[1].col) {
        sorted = false;
        break;
      }
    }
    if (!sorted) std::stable_sort(b, e, [](const Entry& a, const Entry& c) { return a.col < c.col; });
    for (Entry* p = b; p < e; ++p) {
      if (p + 1 < e && p[1].col == p->col) continue;  // a later duplicate follows: it wins
      out.indices[write] = p->col;
      out.values[write] = p->value;
      ++write;
    }
    new_ptr[r + 1] = write;
  }
  out.indices.resize(write);
  out.values.resize(write);
  out.indptr = std::move(new_ptr);
  return out;
}

}  // namespace

bool Csr::contains(index_t r, index_t c) const {
  if (r >= rows()) return false;
  const index_t* b = row_indices(r);
  const index_t* e = b + row_size(r);
  return std::binary_search(b, e, c);
}

Csr Csr::by_user(const Interactions& data) {
  return build(
      data, data.n_users(), data.n_items(), [](const Interaction& x) { return x.user; },
      [](const Interaction& x) { return x.item; }, "user", "item");
}

Csr Csr::by_item(const Interactions& data) {
  return build(
      data, data.n_items(), data.n_users(), [](const Interaction& x) { return x.item; },
      [](const Interaction& x) { return x.user; }, "item", "user");
}

Csr Csr::transpose() const {
  Csr out;
  out.cols = rows();
  out.indptr.assign(static_cast<std::size_t>(cols) + 1, 0);
  for (index_t c : indices) ++out.indptr[c + 1];
  for (index_t c = 0; c < cols; ++c) out.indptr[c + 1] += out.indptr[c];
  out.indices.resize(indices.size());
  out.values.resize(values.size());
  std::vector<std::uint64_t> fill(out.indptr.begin(), out.indptr.end() - 1);
  // Visiting rows in increasing order leaves every new row sorted by its new column.
  for (index_t r = 0; r < rows(); ++r) {
    for (std::uint64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
      const std::uint64_t dst = fill[indices[k]]++;
      out.indices[dst] = r;
      out.values[dst] = values[k];
    }
  }
  return out;
}

}  // namespace edgerec
