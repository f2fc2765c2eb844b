#include "service/tools/admin/status_format.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "platform/config/resdb_config.h"

namespace resdb {
namespace {

// A field of ReplicaStatus shown in the table and the JSON.
struct Field {
  const char* name;
  // Rendered as a JSON number or string.
  bool is_number;
  std::function<std::string(const ReplicaStatus&)> value;
};

template <typename T>
std::function<std::string(const ReplicaStatus&)> Number(T (ReplicaStatus::*getter)() const) {
  return [getter](const ReplicaStatus& status) { return absl::StrCat((status.*getter)()); };
}

// Enough of the digest to compare replicas at a glance.
Field StateDigestField() {
  return {"state_digest", false, [](const ReplicaStatus& s) {
            return absl::BytesToHexString(absl::string_view(s.state_digest()).substr(0, 8));
          }};
}

const std::vector<Field>& CommonFields() {
  static const auto* fields = new std::vector<Field>{
      {"id", true, Number(&ReplicaStatus::id)},
      {"protocol", false, [](const ReplicaStatus& s) { return s.protocol(); }},
      {"role", false, [](const ReplicaStatus& s) { return s.role(); }},
  };
  return *fields;
}

const std::vector<Field>& RaftFields() {
  static const auto* fields = new std::vector<Field>{
      {"term", true, Number(&ReplicaStatus::term)},
      {"leader_id", true, Number(&ReplicaStatus::leader_id)},
      {"commit_index", true, Number(&ReplicaStatus::commit_index)},
      {"applied_index", true, Number(&ReplicaStatus::applied_index)},
      {"first_index", true, Number(&ReplicaStatus::first_index)},
      {"last_index", true, Number(&ReplicaStatus::last_index)},
      {"snapshot_index", true, Number(&ReplicaStatus::snapshot_index)},
      // This replica's place in the membership it knows, and that membership.
      {"membership", false, [](const ReplicaStatus& s) { return s.membership(); }},
      {"voters", false, [](const ReplicaStatus& s) { return absl::StrJoin(s.voters(), ","); }},
      {"learners", false, [](const ReplicaStatus& s) { return absl::StrJoin(s.learners(), ","); }},
      StateDigestField(),
  };
  return *fields;
}

const std::vector<Field>& PbftFields() {
  static const auto* fields = new std::vector<Field>{
      {"view", true, Number(&ReplicaStatus::view)},
      {"primary_id", true, Number(&ReplicaStatus::primary_id)},
      {"executed_seq", true, Number(&ReplicaStatus::executed_seq)},
      {"stable_checkpoint", true, Number(&ReplicaStatus::stable_checkpoint)},
      StateDigestField(),
  };
  return *fields;
}

bool ShowsRaft(const std::string& protocol) { return protocol != kProtocolPbft; }
bool ShowsPbft(const std::string& protocol) { return protocol != kProtocolRaft; }

// The fields a replica reporting `protocol` has, common ones first.
std::vector<const Field*> FieldsOf(const std::string& protocol) {
  std::vector<const Field*> fields;
  for (const Field& field : CommonFields()) fields.push_back(&field);
  if (ShowsRaft(protocol)) {
    for (const Field& field : RaftFields()) fields.push_back(&field);
  }
  if (ShowsPbft(protocol)) {
    for (const Field& field : PbftFields()) {
      // Both protocols report a state digest: one column.
      const bool shown = std::any_of(fields.begin(), fields.end(), [&](const Field* f) {
        return std::string(f->name) == field.name;
      });
      if (!shown) fields.push_back(&field);
    }
  }
  return fields;
}

// Appends the code point `c` in UTF-8.
void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Decodes one UTF-8 sequence at text[i]; returns its length, or 0 if it is not valid
// (overlong forms, surrogates and values above U+10FFFF are not).
size_t DecodeUtf8(absl::string_view text, size_t i, uint32_t* code_point) {
  const unsigned char lead = static_cast<unsigned char>(text[i]);
  size_t length;
  uint32_t c;
  uint32_t min;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, c = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, c = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    c = (c << 6) | (next & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *code_point = c;
  return length;
}

std::string OneLine(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\r\n", " "}, {"\n", " "}, {"\r", " "}});
}

}  // namespace

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      uint32_t code_point = 0;
      const size_t length = DecodeUtf8(text, i, &code_point);
      if (length == 0) {
        AppendUtf8(0xFFFD, &out);
        ++i;
      } else {
        out.append(text.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out += "\"";
  return out;
}

std::string StatusTable(const std::vector<ReplicaStatusResult>& results,
                        const std::string& config_protocol) {
  bool raft = false;
  bool pbft = false;
  bool answered = false;
  for (const auto& [replica, status] : results) {
    if (!status.ok()) continue;
    answered = true;
    raft = raft || ShowsRaft(status->protocol());
    pbft = pbft || ShowsPbft(status->protocol());
  }
  if (!answered) {
    raft = ShowsRaft(config_protocol);
    pbft = ShowsPbft(config_protocol);
  }
  std::vector<const Field*> columns;
  for (const Field& field : CommonFields()) columns.push_back(&field);
  if (raft) {
    for (const Field& field : RaftFields()) columns.push_back(&field);
  }
  if (pbft) {
    for (const Field& field : PbftFields()) columns.push_back(&field);
  }

  // Cells of answered replicas; error rows do not take part in the widths.
  std::vector<std::vector<std::string>> cells(results.size());
  std::vector<size_t> widths;
  for (const Field* column : columns) widths.push_back(std::string(column->name).size());
  for (size_t row = 0; row < results.size(); ++row) {
    const absl::StatusOr<ReplicaStatus>& status = results[row].second;
    if (!status.ok()) continue;
    const std::vector<const Field*> own = FieldsOf(status->protocol());
    for (size_t col = 0; col < columns.size(); ++col) {
      const bool applies = std::find(own.begin(), own.end(), columns[col]) != own.end();
      std::string cell = applies ? OneLine(columns[col]->value(*status)) : "-";
      if (cell.empty()) cell = "-";
      widths[col] = std::max(widths[col], cell.size());
      cells[row].push_back(std::move(cell));
    }
  }

  auto render = [&widths](const std::vector<std::string>& line) {
    std::string out;
    for (size_t col = 0; col < line.size(); ++col) {
      if (col + 1 == line.size()) {
        out += line[col];
      } else {
        out += line[col];
        out.append(widths[col] - std::min(widths[col], line[col].size()) + 2, ' ');
      }
    }
    return out + "\n";
  };
  std::vector<std::string> header;
  for (const Field* column : columns) header.push_back(column->name);
  std::string out = render(header);
  for (size_t row = 0; row < results.size(); ++row) {
    const auto& [replica, status] = results[row];
    if (status.ok()) {
      out += render(cells[row]);
    } else {
      out += render({absl::StrCat(replica.id()),
                     absl::StrCat("error: ", OneLine(status.status().message()))});
    }
  }
  return out;
}

std::string StatusJson(const std::vector<ReplicaStatusResult>& results) {
  std::vector<std::string> objects;
  for (const auto& [replica, status] : results) {
    std::vector<std::string> members;
    if (!status.ok()) {
      members.push_back(absl::StrCat("\"id\": ", replica.id()));
      members.push_back(absl::StrCat("\"error\": ", JsonQuote(status.status().message())));
    } else {
      for (const Field* field : FieldsOf(status->protocol())) {
        const std::string value = field->value(*status);
        members.push_back(absl::StrCat(JsonQuote(field->name), ": ",
                                       field->is_number ? value : JsonQuote(value)));
      }
      if (!status->metrics().empty()) {
        // Sorted, so the output is stable across runs.
        std::map<std::string, int64_t> metrics(status->metrics().begin(), status->metrics().end());
        std::vector<std::string> pairs;
        for (const auto& [name, value] : metrics) {
          pairs.push_back(absl::StrCat(JsonQuote(name), ": ", value));
        }
        members.push_back(absl::StrCat("\"metrics\": {", absl::StrJoin(pairs, ", "), "}"));
      }
    }
    objects.push_back(absl::StrCat("  {", absl::StrJoin(members, ", "), "}"));
  }
  if (objects.empty()) return "[]\n";
  return absl::StrCat("[\n", absl::StrJoin(objects, ",\n"), "\n]\n");
}

std::string LogTable(int64_t replica_id, const LogQueryResult& result) {
  std::string out = absl::StrCat("replica ", replica_id, ": commit_index ", result.commit_index(),
                                 ", holds [", result.first_index(), ", ", result.last_index(), "]");
  if (result.snapshot_index() != 0) {
    absl::StrAppend(&out, ", snapshot ", result.snapshot_index(), " (term ", result.snapshot_term(),
                    ", ", result.snapshot_bytes(), " bytes)");
  }
  out += "\n";
  const std::vector<std::string> header = {"index", "term", "kind", "requests", "bytes"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const LogRecord& record : result.records()) {
    rows.push_back({absl::StrCat(record.index()), absl::StrCat(record.term()), record.kind(),
                    absl::StrCat(record.requests()), absl::StrCat(record.bytes())});
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t col = 0; col < row.size(); ++col)
      widths[col] = std::max(widths[col], row[col].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t col = 0; col < row.size(); ++col) {
      absl::StrAppend(
          &line, row[col],
          col + 1 < row.size() ? std::string(widths[col] - row[col].size() + 2, ' ') : "");
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string LogJson(const LogQueryResult& result) {
  std::vector<std::string> records;
  for (const LogRecord& record : result.records()) {
    records.push_back(absl::StrCat("{\"index\": ", record.index(), ", \"term\": ", record.term(),
                                   ", \"kind\": ", JsonQuote(record.kind()), ", \"requests\": ",
                                   record.requests(), ", \"bytes\": ", record.bytes(), "}"));
  }
  return absl::StrCat(
      "{\"commit_index\": ", result.commit_index(), ", \"first_index\": ", result.first_index(),
      ", \"last_index\": ", result.last_index(), ", \"snapshot_index\": ", result.snapshot_index(),
      ", \"snapshot_term\": ", result.snapshot_term(),
      ", \"snapshot_bytes\": ", result.snapshot_bytes(), ", \"records\": [",
      absl::StrJoin(records, ", "), "]}\n");
}

}  // namespace resdb
