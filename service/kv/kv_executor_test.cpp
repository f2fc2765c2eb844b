#include "service/kv/kv_executor.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "platform/storage/forwarding_storage.h"
#include "platform/storage/memory_storage.h"

namespace resdb {
namespace {

class KVExecutorTest : public ::testing::Test {
 protected:
  // Runs `request` through the ordered path, as the TransactionExecutor would.
  KVResponse Run(const KVRequest& request) {
    return Decode(executor_.ExecuteData(Encode(request)));
  }
  // Runs `request` through the local read path.
  KVResponse Read(const KVRequest& request) { return Decode(executor_.Query(Encode(request))); }

  static std::string Encode(const KVRequest& request) {
    std::string data;
    EXPECT_TRUE(request.SerializeToString(&data));
    return data;
  }

  static KVResponse Decode(const std::unique_ptr<std::string>& data) {
    KVResponse response;
    EXPECT_NE(data, nullptr);
    if (data != nullptr) {
      EXPECT_TRUE(response.ParseFromString(*data));
    }
    return response;
  }

  static KVRequest Make(KVRequest::CMD cmd, const std::string& key, const std::string& value = "",
                        uint64_t version = 0) {
    KVRequest request;
    request.set_cmd(cmd);
    request.set_key(key);
    request.set_value(value);
    request.set_version(version);
    return request;
  }

  static KVRequest Range(const std::string& min_key, const std::string& max_key,
                         uint32_t limit = 0) {
    KVRequest request;
    request.set_cmd(KVRequest::GETRANGE);
    request.set_min_key(min_key);
    request.set_max_key(max_key);
    request.set_limit(limit);
    return request;
  }

  static std::vector<std::string> Keys(const KVResponse& response) {
    std::vector<std::string> keys;
    for (const KVItem& item : response.items()) keys.push_back(item.key());
    return keys;
  }

  std::unique_ptr<Storage> storage_ = NewMemoryStorage();
  KVExecutor executor_{storage_.get(), /*sync=*/false};
};

TEST_F(KVExecutorTest, SetThenGetReturnsTheValue) {
  KVResponse set = Run(Make(KVRequest::SET, "alpha", "one"));
  EXPECT_EQ(set.status(), KVResponse::OK) << set.error();

  KVResponse get = Run(Make(KVRequest::GET, "alpha"));
  EXPECT_EQ(get.status(), KVResponse::OK) << get.error();
  EXPECT_EQ(get.key(), "alpha");
  EXPECT_EQ(get.value(), "one");
  EXPECT_EQ(*storage_->Get("alpha"), "one");
}

TEST_F(KVExecutorTest, SetOverwritesAndKeepsBinaryValues) {
  const std::string binary("a\0b\xff", 4);
  ASSERT_EQ(Run(Make(KVRequest::SET, "k", "first")).status(), KVResponse::OK);
  ASSERT_EQ(Run(Make(KVRequest::SET, "k", binary)).status(), KVResponse::OK);
  EXPECT_EQ(Run(Make(KVRequest::GET, "k")).value(), binary);
}

TEST_F(KVExecutorTest, GetOfAbsentKeyIsNotFound) {
  KVResponse get = Run(Make(KVRequest::GET, "missing"));
  EXPECT_EQ(get.status(), KVResponse::NOT_FOUND);
  EXPECT_NE(get.error().find("missing"), std::string::npos) << get.error();
}

TEST_F(KVExecutorTest, DeleteRemovesTheKey) {
  ASSERT_EQ(Run(Make(KVRequest::SET, "gone", "soon")).status(), KVResponse::OK);
  EXPECT_EQ(Run(Make(KVRequest::DELETE, "gone")).status(), KVResponse::OK);
  EXPECT_EQ(Run(Make(KVRequest::GET, "gone")).status(), KVResponse::NOT_FOUND);
  // Deleting an absent key is not an error: a retried delete has the same outcome.
  EXPECT_EQ(Run(Make(KVRequest::DELETE, "gone")).status(), KVResponse::OK);
}

TEST_F(KVExecutorTest, GetRangeIncludesBothBoundsInKeyOrder) {
  for (const char* key : {"a", "b", "c", "d", "e"}) {
    ASSERT_EQ(Run(Make(KVRequest::SET, key, std::string("v") + key)).status(), KVResponse::OK);
  }
  KVResponse range = Run(Range("b", "d"));
  EXPECT_EQ(range.status(), KVResponse::OK) << range.error();
  EXPECT_EQ(Keys(range), (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_EQ(range.items(0).value(), "vb");
  EXPECT_EQ(range.items(2).value(), "vd");

  // Bounds that are not keys themselves.
  EXPECT_EQ(Keys(Run(Range("aa", "cc"))), (std::vector<std::string>{"b", "c"}));
  // Empty bounds mean "from the first key" / "to the last key".
  EXPECT_EQ(Keys(Run(Range("", "b"))), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Keys(Run(Range("d", ""))), (std::vector<std::string>{"d", "e"}));
  // An inverted range is empty rather than an error.
  KVResponse inverted = Run(Range("d", "b"));
  EXPECT_EQ(inverted.status(), KVResponse::OK);
  EXPECT_EQ(inverted.items_size(), 0);
}

TEST_F(KVExecutorTest, GetRangeStopsAtLimitAndHidesVersionBookkeeping) {
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_EQ(Run(Make(KVRequest::SET, key, "x")).status(), KVResponse::OK);
  }
  ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "v", "x", 0)).status(), KVResponse::OK);

  EXPECT_EQ(Keys(Run(Range("", "", 2))), (std::vector<std::string>{"a", "b"}));
  // The storage's reserved 0xFF keys never show up in a user range.
  EXPECT_EQ(Keys(Run(Range("", ""))), (std::vector<std::string>{"a", "b", "c", "v"}));
}

// However much a client asks for, one result holds at most kDefaultRangeLimit items and about
// kMaxResultBytes, and says when the cap cut it short.
TEST_F(KVExecutorTest, GetRangeIsCappedByItemsAndBytes) {
  const std::string value(512 * 1024, 'v');
  const size_t fitting = KVExecutor::kMaxResultBytes / (value.size() + 2);
  for (size_t i = 0; i < fitting + 3; ++i) {
    ASSERT_EQ(Run(Make(KVRequest::SET, absl::StrCat("k", 10 + i), value)).status(), KVResponse::OK);
  }
  KVResponse capped = Run(Range("", "", 1000000));
  EXPECT_EQ(static_cast<size_t>(capped.items_size()), fitting);
  EXPECT_TRUE(capped.truncated());
  // The rest, from just past the last key returned.
  KVResponse rest = Run(Range(capped.items(capped.items_size() - 1).key() + '\0', "", 1000000));
  EXPECT_EQ(static_cast<size_t>(rest.items_size()), 3u);
  EXPECT_FALSE(rest.truncated());
  // A limit the client chose is not a truncation.
  KVResponse limited = Run(Range("", "", 2));
  EXPECT_EQ(limited.items_size(), 2);
  EXPECT_FALSE(limited.truncated());
  // GET_HISTORY is capped the same way.
  for (uint64_t version = 0; version < 12; ++version) {
    ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "h", value, version)).status(), KVResponse::OK);
  }
  KVResponse history = Run(Make(KVRequest::GET_HISTORY, "h"));
  EXPECT_EQ(static_cast<size_t>(history.items_size()),
            KVExecutor::kMaxResultBytes / (value.size() + 1));
  EXPECT_TRUE(history.truncated());
  EXPECT_EQ(history.items(0).version(), 1u);
}

TEST_F(KVExecutorTest, GetRangeCapsItemCount) {
  for (uint32_t i = 0; i < KVExecutor::kDefaultRangeLimit + 5; ++i) {
    ASSERT_EQ(Run(Make(KVRequest::SET, absl::StrCat("key", 100000 + i), "x")).status(),
              KVResponse::OK);
  }
  KVResponse capped = Run(Range("", "", KVExecutor::kDefaultRangeLimit + 100));
  EXPECT_EQ(static_cast<uint32_t>(capped.items_size()), KVExecutor::kDefaultRangeLimit);
  EXPECT_TRUE(capped.truncated());
  KVResponse by_default = Run(Range("", ""));
  EXPECT_EQ(static_cast<uint32_t>(by_default.items_size()), KVExecutor::kDefaultRangeLimit);
  EXPECT_FALSE(by_default.truncated());
}

// Past the quota, writes that grow the data are refused with the reason; reads, deletes and
// writes that shrink it go on, and the count survives a restart of the executor.
TEST_F(KVExecutorTest, QuotaRefusesGrowthButNotReadsOrDeletes) {
  Stats stats;
  KVExecutor executor(storage_.get(), /*sync=*/false, /*quota_bytes=*/1000, &stats);
  auto run = [&](const KVRequest& request) {
    return Decode(executor.ExecuteData(Encode(request)));
  };
  EXPECT_EQ(stats.GaugeValue("kv_quota_bytes"), 1000);
  ASSERT_EQ(run(Make(KVRequest::SET, "k1", std::string(600, 'a'))).status(), KVResponse::OK);
  EXPECT_EQ(stats.GaugeValue("kv_used_bytes"), 602);
  KVResponse refused = run(Make(KVRequest::SET, "k2", std::string(500, 'b')));
  EXPECT_EQ(refused.status(), KVResponse::QUOTA_EXCEEDED);
  EXPECT_EQ(refused.error(),
            "storage quota of 1000 bytes reached (602 used, the write adds 502); reads and "
            "deletes still work");
  EXPECT_EQ(run(Make(KVRequest::GET, "k2")).status(), KVResponse::NOT_FOUND);
  EXPECT_EQ(run(Make(KVRequest::GET, "k1")).value(), std::string(600, 'a'));
  // Overwriting with a smaller value shrinks the data.
  ASSERT_EQ(run(Make(KVRequest::SET, "k1", std::string(100, 'c'))).status(), KVResponse::OK);
  EXPECT_EQ(stats.GaugeValue("kv_used_bytes"), 102);
  ASSERT_EQ(run(Make(KVRequest::SET, "k2", std::string(500, 'b'))).status(), KVResponse::OK);
  ASSERT_EQ(run(Make(KVRequest::DELETE, "k1")).status(), KVResponse::OK);
  ASSERT_EQ(run(Make(KVRequest::DELETE, "k1")).status(), KVResponse::OK);
  EXPECT_EQ(stats.GaugeValue("kv_used_bytes"), 502);
  // A versioned value counts twice (the value and its kept version).
  ASSERT_EQ(run(Make(KVRequest::SET_WITH_VERSION, "v", std::string(100, 'd'), 0)).status(),
            KVResponse::OK);
  EXPECT_EQ(stats.GaugeValue("kv_used_bytes"), 502 + 2 * 101);
  EXPECT_EQ(run(Make(KVRequest::SET_WITH_VERSION, "v", std::string(300, 'e'), 1)).status(),
            KVResponse::QUOTA_EXCEEDED);
  EXPECT_EQ(run(Make(KVRequest::GET_WITH_VERSION, "v")).version(), 1u);

  Stats restarted_stats;
  KVExecutor restarted(storage_.get(), /*sync=*/false, /*quota_bytes=*/1000, &restarted_stats);
  EXPECT_EQ(restarted_stats.GaugeValue("kv_used_bytes"), 502 + 2 * 101);
  // The count is not user data.
  EXPECT_EQ(Keys(Run(Range("", ""))), (std::vector<std::string>{"k2", "v"}));
}

// Past kMaxVersionHistory versions the oldest kept version is dropped, and so are its bytes.
TEST_F(KVExecutorTest, QuotaCountsDroppedVersions) {
  Stats stats;
  KVExecutor executor(storage_.get(), /*sync=*/false, /*quota_bytes=*/0, &stats);
  for (uint64_t version = 0; version < Storage::kMaxVersionHistory + 4; ++version) {
    ASSERT_EQ(Decode(executor.ExecuteData(
                         Encode(Make(KVRequest::SET_WITH_VERSION, "h", "12345678", version))))
                  .status(),
              KVResponse::OK);
  }
  // The plain value and kMaxVersionHistory kept versions of 1 + 8 bytes each.
  EXPECT_EQ(stats.GaugeValue("kv_used_bytes"),
            static_cast<int64_t>(9 * (1 + Storage::kMaxVersionHistory)));
}

// A Storage whose writes fail as a broken disk's do.
class BrokenDiskStorage : public ForwardingStorage {
 public:
  BrokenDiskStorage() : ForwardingStorage(NewMemoryStorage()) {}

  absl::Status Write(const WriteBatch& batch, bool sync) override {
    return absl::InternalError("IO error: Input/output error");
  }
};

// The other replicas stored the write; this one must stop rather than answer anything else.
TEST_F(KVExecutorTest, WriteTheDiskFailsStopsTheReplica) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  BrokenDiskStorage broken;
  KVExecutor executor(&broken, /*sync=*/false);
  for (KVRequest::CMD cmd : {KVRequest::SET, KVRequest::DELETE, KVRequest::SET_WITH_VERSION}) {
    EXPECT_EXIT(executor.ExecuteData(Encode(Make(cmd, "k", "v"))), testing::ExitedWithCode(1),
                "kv: cannot .*key \"k\": .*Input/output error; stopping the replica")
        << KVRequest::CMD_Name(cmd);
  }
  // A request refused for what it asks is refused alike everywhere, and answered.
  EXPECT_EQ(Decode(executor.ExecuteData(Encode(Make(KVRequest::SET, "", "v")))).status(),
            KVResponse::INVALID);
}

TEST_F(KVExecutorTest, SetWithVersionAdvancesVersionsAndRejectsStaleWrites) {
  KVResponse first = Run(Make(KVRequest::SET_WITH_VERSION, "doc", "v1", 0));
  ASSERT_EQ(first.status(), KVResponse::OK) << first.error();
  EXPECT_EQ(first.version(), 1u);
  KVResponse second = Run(Make(KVRequest::SET_WITH_VERSION, "doc", "v2", 1));
  ASSERT_EQ(second.status(), KVResponse::OK) << second.error();
  EXPECT_EQ(second.version(), 2u);

  KVResponse stale = Run(Make(KVRequest::SET_WITH_VERSION, "doc", "lost", 1));
  EXPECT_EQ(stale.status(), KVResponse::VERSION_MISMATCH);
  EXPECT_EQ(stale.version(), 2u);
  EXPECT_FALSE(stale.error().empty());
  EXPECT_EQ(Run(Make(KVRequest::GET, "doc")).value(), "v2");
}

TEST_F(KVExecutorTest, GetWithVersionReadsLatestOrAGivenVersion) {
  ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "doc", "v1", 0)).status(), KVResponse::OK);
  ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "doc", "v2", 1)).status(), KVResponse::OK);

  KVResponse latest = Run(Make(KVRequest::GET_WITH_VERSION, "doc", "", 0));
  EXPECT_EQ(latest.status(), KVResponse::OK) << latest.error();
  EXPECT_EQ(latest.value(), "v2");
  EXPECT_EQ(latest.version(), 2u);

  KVResponse old = Run(Make(KVRequest::GET_WITH_VERSION, "doc", "", 1));
  EXPECT_EQ(old.status(), KVResponse::OK) << old.error();
  EXPECT_EQ(old.value(), "v1");
  EXPECT_EQ(old.version(), 1u);

  EXPECT_EQ(Run(Make(KVRequest::GET_WITH_VERSION, "doc", "", 3)).status(), KVResponse::NOT_FOUND);
  EXPECT_EQ(Run(Make(KVRequest::GET_WITH_VERSION, "nothing", "", 0)).status(),
            KVResponse::NOT_FOUND);
}

TEST_F(KVExecutorTest, GetHistoryListsVersionsOldestFirst) {
  ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "doc", "v1", 0)).status(), KVResponse::OK);
  ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "doc", "v2", 1)).status(), KVResponse::OK);
  ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "doc", "v3", 2)).status(), KVResponse::OK);

  KVResponse all = Run(Make(KVRequest::GET_HISTORY, "doc"));
  ASSERT_EQ(all.status(), KVResponse::OK) << all.error();
  ASSERT_EQ(all.items_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(all.items(i).version(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(all.items(i).value(), "v" + std::to_string(i + 1));
  }

  KVResponse from_two = Run(Make(KVRequest::GET_HISTORY, "doc", "", 2));
  ASSERT_EQ(from_two.items_size(), 2);
  EXPECT_EQ(from_two.items(0).version(), 2u);

  KVRequest limited = Make(KVRequest::GET_HISTORY, "doc");
  limited.set_limit(1);
  KVResponse one = Run(limited);
  ASSERT_EQ(one.items_size(), 1);
  EXPECT_EQ(one.items(0).version(), 1u);

  EXPECT_EQ(Run(Make(KVRequest::GET_HISTORY, "never")).status(), KVResponse::NOT_FOUND);
}

TEST_F(KVExecutorTest, InvalidKeysAreRejectedForEveryCommand) {
  const std::string too_long(KVExecutor::kMaxKeyBytes + 1, 'k');
  const std::string reserved = "\xffmeta";
  for (KVRequest::CMD cmd :
       {KVRequest::SET, KVRequest::GET, KVRequest::DELETE, KVRequest::SET_WITH_VERSION,
        KVRequest::GET_WITH_VERSION, KVRequest::GET_HISTORY}) {
    SCOPED_TRACE(KVRequest::CMD_Name(cmd));
    KVResponse empty = Run(Make(cmd, "", "v"));
    EXPECT_EQ(empty.status(), KVResponse::INVALID);
    EXPECT_NE(empty.error().find("empty"), std::string::npos) << empty.error();
    KVResponse long_key = Run(Make(cmd, too_long, "v"));
    EXPECT_EQ(long_key.status(), KVResponse::INVALID);
    EXPECT_NE(long_key.error().find("1024"), std::string::npos) << long_key.error();
    KVResponse reserved_key = Run(Make(cmd, reserved, "v"));
    EXPECT_EQ(reserved_key.status(), KVResponse::INVALID);
    EXPECT_NE(reserved_key.error().find("0xFF"), std::string::npos) << reserved_key.error();
  }
  // A key of exactly the limit is fine.
  EXPECT_EQ(Run(Make(KVRequest::SET, std::string(KVExecutor::kMaxKeyBytes, 'k'), "v")).status(),
            KVResponse::OK);
  // Nothing was written under the rejected keys.
  EXPECT_EQ(Keys(Run(Range("", ""))),
            (std::vector<std::string>{std::string(KVExecutor::kMaxKeyBytes, 'k')}));
}

TEST_F(KVExecutorTest, GarbagePayloadYieldsInvalid) {
  const std::string garbage("\xff\xff", 2);  // a truncated varint
  KVResponse response = Decode(executor_.ExecuteData(garbage));
  EXPECT_EQ(response.status(), KVResponse::INVALID);
  EXPECT_NE(response.error().find("KVRequest"), std::string::npos) << response.error();
  EXPECT_EQ(Decode(executor_.Query(garbage)).status(), KVResponse::INVALID);
}

TEST_F(KVExecutorTest, MissingCommandYieldsInvalid) {
  KVRequest request;
  request.set_key("k");
  EXPECT_EQ(Run(request).status(), KVResponse::INVALID);
}

TEST_F(KVExecutorTest, QueryServesReadsAndRefusesWrites) {
  ASSERT_EQ(Run(Make(KVRequest::SET, "k", "v")).status(), KVResponse::OK);
  ASSERT_EQ(Run(Make(KVRequest::SET_WITH_VERSION, "doc", "d1", 0)).status(), KVResponse::OK);

  EXPECT_EQ(Read(Make(KVRequest::GET, "k")).value(), "v");
  EXPECT_EQ(Read(Make(KVRequest::GET, "absent")).status(), KVResponse::NOT_FOUND);
  EXPECT_EQ(Keys(Read(Range("", ""))), (std::vector<std::string>{"doc", "k"}));
  EXPECT_EQ(Read(Make(KVRequest::GET_WITH_VERSION, "doc")).version(), 1u);
  EXPECT_EQ(Read(Make(KVRequest::GET_HISTORY, "doc")).items_size(), 1);

  for (KVRequest::CMD cmd : {KVRequest::SET, KVRequest::DELETE, KVRequest::SET_WITH_VERSION}) {
    SCOPED_TRACE(KVRequest::CMD_Name(cmd));
    KVResponse refused = Read(Make(cmd, "k", "changed", 0));
    EXPECT_EQ(refused.status(), KVResponse::INVALID);
    EXPECT_NE(refused.error().find(KVRequest::CMD_Name(cmd)), std::string::npos) << refused.error();
  }
  EXPECT_EQ(Run(Make(KVRequest::GET, "k")).value(), "v");
  EXPECT_EQ(Run(Make(KVRequest::GET_WITH_VERSION, "k")).status(), KVResponse::NOT_FOUND);
}

TEST_F(KVExecutorTest, RunsThroughTheDefaultBatchPath) {
  BatchUserRequest batch;
  batch.add_requests()->set_data(Encode(Make(KVRequest::SET, "x", "1")));
  batch.add_requests()->set_data(Encode(Make(KVRequest::GET, "x")));
  batch.add_requests()->set_data("\xff\xff");

  std::unique_ptr<BatchUserResponse> responses = executor_.ExecuteBatch(batch);
  ASSERT_EQ(responses->responses_size(), 3);
  KVResponse get;
  ASSERT_TRUE(get.ParseFromString(responses->responses(1)));
  EXPECT_EQ(get.value(), "1");
  KVResponse invalid;
  ASSERT_TRUE(invalid.ParseFromString(responses->responses(2)));
  EXPECT_EQ(invalid.status(), KVResponse::INVALID);
}

TEST_F(KVExecutorTest, IsReadOnlyNamesTheReadCommands) {
  for (KVRequest::CMD cmd :
       {KVRequest::GET, KVRequest::GETRANGE, KVRequest::GET_WITH_VERSION, KVRequest::GET_HISTORY}) {
    EXPECT_TRUE(executor_.IsReadOnly(Encode(Make(cmd, "k")))) << KVRequest::CMD_Name(cmd);
  }
  for (KVRequest::CMD cmd :
       {KVRequest::SET, KVRequest::DELETE, KVRequest::SET_WITH_VERSION, KVRequest::NONE}) {
    EXPECT_FALSE(executor_.IsReadOnly(Encode(Make(cmd, "k")))) << KVRequest::CMD_Name(cmd);
  }
  EXPECT_FALSE(executor_.IsReadOnly(std::string("\xff\xff\xff", 3)));
}

}  // namespace
}  // namespace resdb
