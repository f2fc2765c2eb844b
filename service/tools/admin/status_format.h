#ifndef SERVICE_TOOLS_ADMIN_STATUS_FORMAT_H_
#define SERVICE_TOOLS_ADMIN_STATUS_FORMAT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "service/tools/admin/admin_client.h"

namespace resdb {

// `text` as a JSON string literal, quotes included. Control characters are escaped; bytes
// that are not valid UTF-8 become U+FFFD, so the result is always valid JSON.
std::string JsonQuote(absl::string_view text);

// Renders `results` (one per replica, in config order) as a table for people: a header line
// and one line per replica, columns separated by two spaces. The columns are id, protocol,
// role, then the protocol's own fields:
//   raft: term, leader_id, commit_index, applied_index, first_index, last_index,
//         snapshot_index
//   pbft: view, primary_id, executed_seq, stable_checkpoint
// A protocol's columns appear when some replica reports it; a replica reporting another
// protocol shows "-" in them, and one reporting a protocol other than these two shows both
// sets. When no replica answered, `config_protocol` picks the columns. A replica that did not
// answer gets "error: <message>" after its id. Ends with a newline.
std::string StatusTable(const std::vector<ReplicaStatusResult>& results,
                        const std::string& config_protocol);

// Renders `results` as exactly one JSON array, one object per replica in the same order:
//   raft: {"id", "protocol", "role", "term", "leader_id", "commit_index", "applied_index",
//          "first_index", "last_index", "snapshot_index"}
//   pbft: {"id", "protocol", "role", "view", "primary_id", "executed_seq", "stable_checkpoint"}
//   another protocol: the keys of both
//   no answer: {"id", "error"}
// Numbers are JSON numbers. Ends with a newline.
std::string StatusJson(const std::vector<ReplicaStatusResult>& results);

// `resdb_admin log`: a header line (commit index, history held, snapshot) and one row per
// record, columns aligned.
std::string LogTable(int64_t replica_id, const LogQueryResult& result);
// The same as one JSON object (proto field names), ending in a newline.
std::string LogJson(const LogQueryResult& result);

}  // namespace resdb

#endif  // SERVICE_TOOLS_ADMIN_STATUS_FORMAT_H_
