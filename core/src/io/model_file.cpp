// The model file: header, common part, atomic save and untrusted load (layout in
// edgerec/model_file.hpp).
#include "edgerec/model_file.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <type_traits>

#include "edgerec/split.hpp"
#include "io/archive.hpp"
#include "meta/item_meta_io.hpp"

#if defined(_WIN32)
#define EDGEREC_POSIX_IO 0
#else
#define EDGEREC_POSIX_IO 1
#include <cerrno>
#include <csignal>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace edgerec {
namespace {

constexpr char kFormatTag[] = "edgerec-model";
constexpr std::size_t kChecksumBytes = 4;
// Hard limits, far above any real catalogue, so a forged count fails before allocating.
constexpr std::uint64_t kMaxIds = std::numeric_limits<std::int32_t>::max();
constexpr std::size_t kMaxLossEntries = std::size_t{1} << 20;
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{4} << 30;

// Ranges of the common part's numbers (those of the hyper-parameters are in io/archive.hpp):
// the reader refuses values outside them, and the writer refuses to save them.
using io::IntRange;
using io::range_text;
constexpr IntRange kThreadsRange{1, 65536};

std::uint32_t load_le32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 |
         std::uint32_t(b[3]) << 24;
}
std::uint64_t load_le64(const char* p) {
  return std::uint64_t(load_le32(p)) | std::uint64_t(load_le32(p + 4)) << 32;
}
void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

[[noreturn]] void file_error(const std::string& name, const std::string& what) {
  throw Error(name + ": " + what);
}

// Everything about the file that can be checked without parsing the payload, cheapest first,
// so that a file that is not a model at all gets "bad magic" rather than a checksum error.
ModelFileHeader check_file(const char* data, std::size_t size, const std::string& name) {
  if (size == 0) file_error(name, "empty file, not an edgerec model");
  const std::size_t magic_len = std::min(size, sizeof(kModelMagic));
  if (std::memcmp(data, kModelMagic, magic_len) != 0)
    file_error(name, "not an edgerec model file (bad magic)");
  if (size < kModelHeaderBytes)
    file_error(name, "truncated: " + std::to_string(size) + " bytes is shorter than the " +
                         std::to_string(kModelHeaderBytes) + "-byte header");
  ModelFileHeader h;
  h.version = load_le32(data + 4);
  const std::uint32_t kind = load_le32(data + 8);
  const std::uint32_t flags = load_le32(data + 12);
  h.payload_bytes = load_le64(data + 16);
  if (h.version == 0) file_error(name, "invalid model format version 0");
  if (h.version > kModelFormatVersion)
    file_error(name, "model format version " + std::to_string(h.version) +
                         " is newer than this edgerec supports (" +
                         std::to_string(kModelFormatVersion) + "); upgrade edgerec");
  const std::uint64_t after_header = size - kModelHeaderBytes;
  const std::uint64_t have =
      after_header >= kChecksumBytes ? after_header - kChecksumBytes : 0;
  if (after_header < kChecksumBytes || h.payload_bytes > have)
    file_error(name, "truncated: header says " + std::to_string(h.payload_bytes) +
                         " payload bytes, file has " + std::to_string(have));
  if (h.payload_bytes < have)
    file_error(name, std::to_string(have - h.payload_bytes) +
                         " unexpected bytes after the checksum (header says " +
                         std::to_string(h.payload_bytes) + " payload bytes)");
  const std::size_t covered = kModelHeaderBytes + static_cast<std::size_t>(h.payload_bytes);
  if (crc32(data, covered) != load_le32(data + covered))
    file_error(name, "checksum mismatch: file is corrupted");
  // Checked after the checksum: a valid checksum with odd values means a writer bug or a forged
  // file, not bit rot, and the message should say which field.
  if (flags != 0) file_error(name, "header flags are " + std::to_string(flags) + ", expected 0");
  if (!kind_is_valid(kind))
    file_error(name, "unknown model kind " + std::to_string(kind) + " (newer edgerec?)");
  h.kind = static_cast<ModelKind>(kind);
  return h;
}

// ---- common part --------------------------------------------------------------------------------

// What every check of load_common() needs that the archive's own encoding does not guarantee,
// refused at save time so that a model that would not load back is never written.
void check_saveable_common(const Model& m) {
  if (m.seen.rows() != m.n_users() || m.seen.cols != m.n_items() ||
      m.item_popularity.size() != m.n_items())
    throw Error("cannot save the model: its seen matrix or item popularity does not match its "
                "id maps (" + std::to_string(m.n_users()) + " users, " +
                std::to_string(m.n_items()) + " items)");
  if (m.info.loss.size() > kMaxLossEntries)
    throw Error("cannot save the model: its loss history is too long");
}

[[noreturn]] void unsaveable(const std::string& field, const std::string& what) {
  throw Error("cannot save the model: " + field + " " + what + " (the reader would refuse the file)");
}

// What is wrong with `s` as the ordered histories of `m` ("" when nothing): the layout's rules
// (one row per user, offsets from 0, non-decreasing, ending at the item count; items in range)
// and each row's items among the user's seen items. `field` receives the failing field's name.
std::string sequences_problem(const Sequences& s, const Model& m, const char** field) {
  *field = "sequences.offsets";
  if (s.offsets.size() != std::size_t{m.n_users()} + 1)
    return "has " + std::to_string(s.offsets.size()) + " row offsets, expected " +
           std::to_string(std::uint64_t{m.n_users()} + 1) + " (one per user, plus one)";
  const std::uint64_t* ptr = s.offsets.data();  // no operator[] calls in -Os loops
  if (ptr[0] != 0) return "does not start at 0";
  for (index_t u = 0; u < m.n_users(); ++u)
    if (ptr[u + 1] < ptr[u]) return "decreases at row " + std::to_string(u + 1);
  if (ptr[m.n_users()] != s.items.size())
    return "ends at " + std::to_string(ptr[m.n_users()]) + ", but there are " +
           std::to_string(s.items.size()) + " items";
  *field = "sequences.items";
  const index_t* items = s.items.data();
  for (index_t u = 0; u < m.n_users(); ++u)
    for (std::uint64_t k = ptr[u]; k < ptr[u + 1]; ++k) {
      const index_t i = items[k];
      if (i >= m.n_items())
        return "item " + std::to_string(i) + " at position " + std::to_string(k) +
               " is out of range (must be < " + std::to_string(m.n_items()) + ")";
      if (!m.seen.contains(u, i))
        return "row " + std::to_string(u) + " holds item " + std::to_string(i) +
               ", which is not among the user's seen items";
    }
  return "";
}

void save_common(SaveArchive& ar, const Model& m) {
  check_saveable_common(m);
  if (m.sequences) {
    const char* field = "";
    const std::string problem = sequences_problem(*m.sequences, m, &field);
    if (!problem.empty()) unsaveable(field, problem);
  }
  for (const float p : m.item_popularity)
    if (p < 0) unsaveable("item_popularity", "has a negative count");
  if (!(m.info.fit_seconds >= 0)) unsaveable("info.fit_seconds", "is negative or NaN");
  if (m.info.threads < kThreadsRange.lo || m.info.threads > kThreadsRange.hi)
    unsaveable("info.threads", "is " + std::to_string(m.info.threads) + ", out of range " + range_text(kThreadsRange));
  if (!(m.rating_min <= m.rating_max)) unsaveable("rating_max", "is below rating_min");

  using cereal::make_nvp;
  ar(make_nvp("format_tag", std::string(kFormatTag)),
     make_nvp("user_ids", io::at_most(m.users.ids(), kMaxIds)),
     make_nvp("item_ids", io::at_most(m.items.ids(), kMaxIds)),
     make_nvp("seen", io::shaped(m.seen, m.n_users(), m.n_items())),
     make_nvp("item_popularity", io::at_most(m.item_popularity, m.n_items())),
     make_nvp("info.fit_seconds", m.info.fit_seconds),
     make_nvp("info.train_rows", m.info.train_rows),
     make_nvp("info.source", m.info.source),
     make_nvp("info.loss", io::at_most(m.info.loss, kMaxLossEntries)),
     make_nvp("info.threads", m.info.threads),
     make_nvp("rating_min", m.rating_min),
     make_nvp("rating_max", m.rating_max),
     make_nvp("sequences", static_cast<std::uint8_t>(m.sequences ? 1 : 0)));
  if (m.sequences)
    ar(make_nvp("sequences.offsets", io::at_most(m.sequences->offsets, std::uint64_t{m.n_users()} + 1)),
       make_nvp("sequences.items", io::at_most(m.sequences->items, kMaxElements, m.n_items())));
  save_item_meta_section(ar, m);
}

IdMap ids_from(LoadArchive& ar, const char* field, std::vector<std::string> ids) {
  try {
    return IdMap::from_ids(std::move(ids));
  } catch (const Error& e) {
    ar.fail(field, e.what());
  }
}

// Reads every format version's common part: versions 1 and 2 had every kind's hyper-parameters
// between item_popularity and info, and no sequences flag.
void load_common(LoadArchive& ar, Model& m) {
  const bool legacy = ar.format_version() <= 2;
  using cereal::make_nvp;
  std::string tag;
  ar(make_nvp("format_tag", tag));
  if (tag != kFormatTag) ar.fail("format_tag", "is '" + tag + "', expected '" + kFormatTag + "'");
  std::vector<std::string> ids;
  ar(make_nvp("user_ids", io::at_most(ids, kMaxIds)));
  m.users = ids_from(ar, "user_ids", std::move(ids));
  ids.clear();
  ar(make_nvp("item_ids", io::at_most(ids, kMaxIds)));
  m.items = ids_from(ar, "item_ids", std::move(ids));
  ar(make_nvp("seen", io::shaped(m.seen, m.n_users(), m.n_items())),
     make_nvp("item_popularity", io::at_most(m.item_popularity, m.n_items())));
  if (m.item_popularity.size() != m.n_items())
    ar.fail("item_popularity", "has " + std::to_string(m.item_popularity.size()) +
                                   " entries, expected one per item (" +
                                   std::to_string(m.n_items()) + ")");
  // A plain pointer loop: the -Os wasm build calls vector iterators' operators out of line.
  const float* pop = m.item_popularity.data();
  for (std::size_t i = 0, n = m.item_popularity.size(); i < n; ++i)
    if (pop[i] < 0) ar.fail("item_popularity", "has a negative count");
  if (legacy) ar(make_nvp("hyper", io::hyper_fields(m.hyper, io::kAllHyper)));

  ar(make_nvp("info.fit_seconds", m.info.fit_seconds));
  if (m.info.fit_seconds < 0) ar.fail("info.fit_seconds", "is negative");
  ar(make_nvp("info.train_rows", m.info.train_rows), make_nvp("info.source", m.info.source),
     make_nvp("info.loss", io::at_most(m.info.loss, kMaxLossEntries)),
     make_nvp("info.threads", m.info.threads));
  if (m.info.threads < kThreadsRange.lo || m.info.threads > kThreadsRange.hi)
    ar.fail("info.threads", std::to_string(m.info.threads) + " is out of range " + range_text(kThreadsRange));
  ar(make_nvp("rating_min", m.rating_min), make_nvp("rating_max", m.rating_max));
  if (m.rating_min > m.rating_max) ar.fail("rating_max", "is below rating_min");

  m.sequences.reset();
  m.item_meta.reset();
  if (legacy) return;
  std::uint8_t has_sequences = 0;
  ar(make_nvp("sequences", has_sequences));
  if (has_sequences > 1)
    ar.fail("sequences", "presence flag is " + std::to_string(has_sequences) + ", expected 0 or 1");
  if (has_sequences) {
    Sequences s;
    ar(make_nvp("sequences.offsets", io::at_most(s.offsets, std::uint64_t{m.n_users()} + 1)),
       make_nvp("sequences.items", io::at_most(s.items, kMaxElements, m.n_items())));
    const char* field = "";
    const std::string problem = sequences_problem(s, m, &field);
    if (!problem.empty()) ar.fail(field, problem);
    m.sequences = std::move(s);
  }
  // Version 4 added the optional item metadata section.
  m.item_meta.reset();
  if (ar.format_version() >= 4) load_item_meta_section(ar, m);
}

// ---- files ---------------------------------------------------------------------------------

// "<path>.tmp-<pid>-<16 hex digits>": the pid lets a later save tell a temporary file whose
// writer died (SIGKILL, power loss: nothing could remove it) from one being written right now.
std::string temp_name(const std::string& path, std::uint64_t pid, Rng& rng) {
  static const char kHex[] = "0123456789abcdef";
  std::string s = path + ".tmp-" + std::to_string(pid) + "-";
  std::uint64_t v = rng.next();
  for (int i = 0; i < 16; ++i, v >>= 4) s.push_back(kHex[v & 0xFu]);
  return s;
}

[[noreturn]] void save_error(const std::string& path, const std::string& what) {
  throw Error("cannot write '" + path + "': " + what);
}

#if EDGEREC_POSIX_IO
std::string errno_text() { return std::strerror(errno); }

// A temporary file of a save is stale when no save can still be writing it:
//  - its writer's pid is not running on this machine (kill(pid, 0) says ESRCH) and it has not
//    been written for kDeadWriterSeconds (the grace covers a writer on another machine sharing
//    the directory, whose pid means nothing here: a live writer's writes keep the time fresh);
//  - or it has not been written for kAbandonedSeconds, whatever its pid says (a pid reused by
//    another process, or a name without a pid, from edgerec 0.1).
// Two savers of one target never remove each other's files: both pids are running.
constexpr std::int64_t kDeadWriterSeconds = 60;
constexpr std::int64_t kAbandonedSeconds = 24 * 60 * 60;

bool all_hex16(std::string_view s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The pid in a temporary name's suffix (after "<name>.tmp-"): 0 for the old pid-less form,
// -1 when the suffix is not one of ours at all.
std::int64_t temp_suffix_pid(std::string_view suffix) {
  if (all_hex16(suffix)) return 0;
  const std::size_t dash = suffix.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 10 || !all_hex16(suffix.substr(dash + 1)))
    return -1;
  std::int64_t pid = 0;
  for (const char c : suffix.substr(0, dash)) {
    if (c < '0' || c > '9') return -1;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

// Removes the stale temporary files of earlier saves of `path` (best effort: errors are
// ignored, as they must never fail the save itself). Only regular files named exactly like
// our own temporary files for this target are considered.
void remove_stale_temps(const std::string& path) {
  const std::filesystem::path target(path);
  std::string dir = target.parent_path().string();
  if (dir.empty()) dir = ".";
  const std::string prefix = target.filename().string() + ".tmp-";
  if (prefix.size() == 5) return;  // a path ending in '/': nothing of ours can be there
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    const std::int64_t pid = temp_suffix_pid(name.substr(prefix.size()));
    if (pid < 0) continue;
    const std::string file = dir + "/" + std::string(name);
    struct stat st;
    if (::lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // never a symlink
    const std::int64_t idle = now - static_cast<std::int64_t>(st.st_mtime);
    const bool writer_dead = pid > 0 && pid <= std::numeric_limits<::pid_t>::max() &&
                             ::kill(static_cast<::pid_t>(pid), 0) != 0 && errno == ESRCH;
    if (idle > kAbandonedSeconds || (writer_dead && idle > kDeadWriterSeconds))
      (void)::unlink(file.c_str());
  }
  ::closedir(d);
}

// Makes the rename itself durable; best effort, as some file systems refuse fsync on a directory.
void sync_parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}
#endif

}  // namespace

void write_atomically(const std::string& path, const std::string& bytes) {
  // Temp names only need to be unlikely to collide (O_EXCL catches the rest); the seed mixes
  // process, time and an address so concurrent savers pick different names.
  Rng rng(mix_seed(static_cast<std::uint64_t>(
                       std::chrono::steady_clock::now().time_since_epoch().count()),
#if EDGEREC_POSIX_IO
                   static_cast<std::uint64_t>(::getpid()),
#else
                   0,
#endif
                   reinterpret_cast<std::uintptr_t>(&bytes)));
  std::string tmp;
#if EDGEREC_POSIX_IO
  remove_stale_temps(path);
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    tmp = temp_name(path, static_cast<std::uint64_t>(::getpid()), rng);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      save_error(path, "cannot create temporary file '" + tmp + "': " + errno_text());
  }
  if (fd < 0) save_error(path, "cannot create a temporary file beside it");
  auto abandon = [&](const std::string& what) {
    const std::string text = what + ": " + errno_text();
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    save_error(path, text);
  };
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ::ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("cannot write '" + tmp + "'");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) abandon("cannot flush '" + tmp + "' to disk");
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) abandon("cannot close '" + tmp + "'");
  if (::rename(tmp.c_str(), path.c_str()) != 0) abandon("cannot rename '" + tmp + "' over it");
  sync_parent_dir(path);
#else
  tmp = temp_name(path, 0, rng);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) save_error(path, "cannot create temporary file '" + tmp + "'");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      save_error(path, "cannot write '" + tmp + "'");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    save_error(path, "cannot rename '" + tmp + "' over it: " + ec.message());
  }
#endif
}


std::string model_to_bytes(const Model& model, const SaveOptions& options) {
  if (options.int8_items && !model.embeddings())
    throw Error(std::string(kind_name(model.kind())) + " models have no item matrix to store as int8");
  SaveArchive ar(options);
  save_common(ar, model);
  model.save_section(ar);
  const std::string payload = ar.take();

  std::string out;
  out.reserve(kModelHeaderBytes + payload.size() + kChecksumBytes);
  out.append(kModelMagic, sizeof(kModelMagic));
  append_le(out, kModelFormatVersion, 4);
  append_le(out, static_cast<std::uint32_t>(model.kind()), 4);
  append_le(out, 0, 4);  // flags
  append_le(out, payload.size(), 8);
  out += payload;
  append_le(out, crc32(out.data(), out.size()), 4);
  return out;
}

ModelFileHeader read_header(const char* data, std::size_t size, const std::string& name) {
  return check_file(data, size, name);
}

std::unique_ptr<Model> model_from_bytes(const char* data, std::size_t size,
                                        const std::string& name) {
  const ModelFileHeader h = check_file(data, size, name);
  const char* payload = data + kModelHeaderBytes;
  const auto payload_size = static_cast<std::size_t>(h.payload_bytes);
  std::unique_ptr<Model> model = make_model(h.kind);
  // Every version is read through the same archive: the common part and each kind's serialize()
  // branch on the file's format version (see the history in model_file.hpp).
  LoadArchive ar(payload, payload_size, name);
  ar.set_format_version(h.version);
  if (h.version <= 2 && h.kind > ModelKind::itemknn)
    ar.fail("kind", std::string(kind_name(h.kind)) + " models did not exist in format version " +
                        std::to_string(h.version));
  load_common(ar, *model);
  model->load_section(ar);
  if (model->needs_sequences() && !model->sequences)
    ar.fail("sequences", std::string("missing: ") + kind_name(h.kind) +
                             " models need each user's items in time order");
  if (ar.remaining() != 0)
    ar.fail("end", std::to_string(ar.remaining()) + " unexpected bytes after the " +
                       kind_name(h.kind) + " parameters");
  // A file may leave any hyper-parameter out; serving (the ials and bpr fold-ins, the
  // explanations) reads them, so an absent one takes the kind's default, as fit() does.
  model->hyper = model->hyper.merged_over(model->defaults());
  return model;
}

void save_model(const Model& model, const std::string& path, const SaveOptions& options) {
  // Serialise first: a model that cannot be written never touches the disk.
  const std::string bytes = model_to_bytes(model, options);
  write_atomically(path, bytes);
}

std::unique_ptr<Model> load_model(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st))
    throw Error("cannot open model file '" + path + "': " +
                (ec ? ec.message() : std::string("no such file")));
  if (fs::is_directory(st)) throw Error("cannot open model file '" + path + "': it is a directory");
  if (!fs::is_regular_file(st))
    throw Error("cannot open model file '" + path + "': not a regular file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) throw Error("cannot read model file '" + path + "': " + ec.message());
  if (size > kMaxFileBytes || size > std::numeric_limits<std::size_t>::max())
    throw Error("cannot read model file '" + path + "': " + std::to_string(size) +
                " bytes is more than the 4 GiB limit");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open model file '" + path + "': " + std::strerror(errno));
  // Uninitialised (a std::string would be zero-filled first: one more pass over the file).
  const auto n = static_cast<std::size_t>(size);
  const std::unique_ptr<char[]> bytes(new char[n]);
  in.read(bytes.get(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size)
    throw Error("cannot read model file '" + path + "': read " + std::to_string(in.gcount()) +
                " of " + std::to_string(size) + " bytes");
  return model_from_bytes(bytes.get(), n, path);
}

}  // namespace edgerec
