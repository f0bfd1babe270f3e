// A small fixed-size thread pool for the CPU backend's parallel loops
// (e.g. splitting a matrix product's output rows).
#ifndef FXSERVE_BACKENDS_CPU_THREAD_POOL_H_
#define FXSERVE_BACKENDS_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fxserve::backends::cpu {

class ThreadPool {
 public:
  // `threads` threads take part in each loop: the caller's and threads - 1
  // workers (values below 1 count as 1: no workers). After a loop, workers
  // poll for the next one for kSpinMicros (a decode step issues loops back
  // to back, and waking a sleeping thread costs 5-50 us), then sleep on a
  // condition variable: an idle pool uses no CPU.
  static constexpr int kSpinMicros = 50;

  explicit ThreadPool(int threads);
  // Joins the workers.
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(i) for every i in [0, n), each exactly once, spread over the
  // threads (the caller's thread takes part, indices are handed out one at
  // a time), and returns when all are done. fn must not throw. Concurrent
  // calls from several threads are serialized; a call from inside fn (on
  // any of this pool's threads) runs its loop inline on that thread.
  void ParallelFor(int n, const std::function<void(int)>& fn);

 private:
  void WorkerLoop();
  // Runs indices of the current loop until none are left.
  void RunIndices();

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // One loop at a time.

  std::mutex mu_;
  std::condition_variable work_cv_;  // Workers: a new loop, or stop.
  std::condition_variable done_cv_;  // Caller: every worker finished.
  // Loops started. Changed under mu_ (so sleeping workers miss no wake-up);
  // spinning workers read it without the lock.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> busy_workers_{0};  // Workers still in the current loop.
  std::atomic<bool> stop_{false};     // Changed under mu_.

  // The current loop: written before generation_ changes (release), read by
  // the workers after they see the change (acquire).
  const std::function<void(int)>* fn_ = nullptr;
  int n_ = 0;
  std::atomic<int> next_{0};
};

}  // namespace fxserve::backends::cpu

#endif  // FXSERVE_BACKENDS_CPU_THREAD_POOL_H_
