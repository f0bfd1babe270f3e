#include "backends/cpu/thread_pool.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace fxserve::backends::cpu {
namespace {

// Runs a loop of n and checks that every index ran exactly once.
void ExpectEachIndexOnce(ThreadPool& pool, int n) {
  std::vector<std::atomic<int>> counts(n > 0 ? n : 0);
  pool.ParallelFor(n, [&](int i) {
    ASSERT_GE(i, 0);
    ASSERT_LT(i, n);
    counts[i].fetch_add(1, std::memory_order_relaxed);
  });
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(counts[i].load(), 1) << "index " << i << " of " << n;
  }
}

TEST(ThreadPoolTest, Size) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(4).size(), 4);
  EXPECT_EQ(ThreadPool(0).size(), 1);
  EXPECT_EQ(ThreadPool(-3).size(), 1);
}

TEST(ThreadPoolTest, EveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int n : {1, 2, 3, 7, 8, 9, 100, 1000, 100000}) {
      ExpectEachIndexOnce(pool, n);
    }
  }
}

TEST(ThreadPoolTest, ZeroAndNegativeNDoNothing) {
  ThreadPool pool(3);
  int calls = 0;
  pool.ParallelFor(0, [&](int) { ++calls; });
  pool.ParallelFor(-5, [&](int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPoolTest, FewerIndicesThanThreads) {
  ThreadPool pool(8);
  for (int n = 1; n < 8; ++n) ExpectEachIndexOnce(pool, n);
}

TEST(ThreadPoolTest, ManyCalls) {
  ThreadPool pool(4);
  int64_t total = 0;
  std::mutex mu;
  for (int call = 0; call < 20000; ++call) {
    const int n = call % 9;
    pool.ParallelFor(n, [&](int i) {
      std::lock_guard<std::mutex> lock(mu);
      total += i + 1;
    });
  }
  // sum over calls of n (n + 1) / 2, n = call % 9.
  int64_t want = 0;
  for (int call = 0; call < 20000; ++call) {
    const int n = call % 9;
    want += n * (n + 1) / 2;
  }
  EXPECT_EQ(total, want);
}

TEST(ThreadPoolTest, SpreadsOverThreadsAndTheCallerTakesPart) {
  ThreadPool pool(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::mutex mu;
  std::set<std::thread::id> ids;
  // Each index waits until both threads have run one, so a pool that left
  // a thread out would hang here rather than pass.
  std::atomic<int> started{0};
  pool.ParallelFor(2, [&](int) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    started.fetch_add(1);
    while (started.load() < 2) std::this_thread::yield();
  });
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(caller), 1u);
}

TEST(ThreadPoolTest, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> counts(6 * 5);
  pool.ParallelFor(6, [&](int i) {
    pool.ParallelFor(5, [&](int j) { counts[i * 5 + j].fetch_add(1); });
  });
  for (auto& count : counts) EXPECT_EQ(count.load(), 1);
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialized) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int k = 0; k < 200; ++k) {
        const int n = 1 + (c * 7 + k) % 50;
        std::vector<std::atomic<int>> counts(n);
        pool.ParallelFor(n, [&](int i) { counts[i].fetch_add(1); });
        for (auto& count : counts) {
          if (count.load() != 1) failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(failures.load(), 0);
}

// The Linux thread ids of the pool's workers: a loop of size() indices
// where each index waits until all have started, so that every thread of
// the pool runs exactly one.
std::vector<pid_t> WorkerTids(ThreadPool& pool) {
  const pid_t caller = static_cast<pid_t>(syscall(SYS_gettid));
  std::mutex mu;
  std::vector<pid_t> tids;
  std::atomic<int> started{0};
  pool.ParallelFor(pool.size(), [&](int) {
    const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
    {
      std::lock_guard<std::mutex> lock(mu);
      if (tid != caller) tids.push_back(tid);
    }
    started.fetch_add(1);
    while (started.load() < pool.size()) std::this_thread::yield();
  });
  return tids;
}

// A thread's scheduler state from /proc: 'R' running or runnable (a
// spinning worker, which yields, is one), 'S' asleep (blocked in the
// kernel, as on a condition variable), '?' when unreadable.
char ThreadState(pid_t tid) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat;
  std::getline(file, stat);
  // "tid (comm) state ...": the name may hold spaces and parentheses.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return '?';
  return stat[close + 2];
}

// Only a pool that never sleeps makes this wait run out; how long the
// workers spin first is the machine's business.
constexpr auto kHangGuard = std::chrono::seconds(120);

// Waits until every one of `tids` is asleep; false if that never happened
// (within kHangGuard).
bool AwaitAllAsleep(const std::vector<pid_t>& tids) {
  const auto give_up = std::chrono::steady_clock::now() + kHangGuard;
  for (;;) {
    bool all = true;
    for (pid_t tid : tids) all = all && ThreadState(tid) == 'S';
    if (all) return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// Each loop starts once every worker is asleep, so it must wake them.
TEST(ThreadPoolTest, WakesSleepingWorkers) {
  ThreadPool pool(3);
  const std::vector<pid_t> workers = WorkerTids(pool);
  ASSERT_EQ(workers.size(), 2u);
  for (int k = 0; k < 20; ++k) {
    ASSERT_TRUE(AwaitAllAsleep(workers)) << "loop " << k;
    ExpectEachIndexOnce(pool, 1 + k % 7);
  }
}

// An idle pool sleeps: once the spin after a loop ends, its workers are
// asleep (not spinning) and use (almost) no CPU time.
TEST(ThreadPoolTest, IdlePoolUsesNoCpu) {
  ThreadPool pool(4);
  const std::vector<pid_t> workers = WorkerTids(pool);
  ASSERT_EQ(workers.size(), 3u);
  ExpectEachIndexOnce(pool, 100);
  ASSERT_TRUE(AwaitAllAsleep(workers)) << "the idle workers never slept";
  timespec before, after;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &before);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &after);
  const double cpu_seconds =
      (after.tv_sec - before.tv_sec) + (after.tv_nsec - before.tv_nsec) * 1e-9;
  // Asleep, they use none however slow the machine; three workers that
  // kept spinning would use up to 0.6 s.
  EXPECT_LT(cpu_seconds, 0.05);
  for (pid_t tid : workers) EXPECT_EQ(ThreadState(tid), 'S') << tid;
}

TEST(ThreadPoolTest, ConstructAndDestroyRepeatedly) {
  for (int k = 0; k < 200; ++k) {
    auto pool = std::make_unique<ThreadPool>(1 + k % 4);
    if (k % 2) ExpectEachIndexOnce(*pool, 1 + k % 13);
  }
}

}  // namespace
}  // namespace fxserve::backends::cpu
