#include "backends/cpu/thread_pool.h"

#include <chrono>
#include <thread>

namespace fxserve::backends::cpu {
namespace {

// The pool whose loop this thread is running (to run nested loops inline).
thread_local const ThreadPool* current_pool = nullptr;

// Sets current_pool for a scope.
class InPool {
 public:
  explicit InPool(const ThreadPool* pool) : saved_(current_pool) {
    current_pool = pool;
  }
  ~InPool() { current_pool = saved_; }
  InPool(const InPool&) = delete;
  InPool& operator=(const InPool&) = delete;

 private:
  const ThreadPool* saved_;
};

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls done() for up to ThreadPool::kSpinMicros; true if it became true.
template <class Done>
bool SpinUntil(Done done) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::microseconds(ThreadPool::kSpinMicros);
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
    // Lets a thread that shares this core (more threads than cores) run.
    std::this_thread::yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  const int workers = threads > 1 ? threads - 1 : 0;
  workers_.reserve(workers);
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
  }
  work_cv_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::RunIndices() {
  for (int i = next_.fetch_add(1, std::memory_order_relaxed); i < n_;
       i = next_.fetch_add(1, std::memory_order_relaxed)) {
    (*fn_)(i);
  }
}

void ThreadPool::WorkerLoop() {
  InPool in_pool(this);
  uint64_t seen = 0;
  const auto changed = [&] {
    return stop_.load(std::memory_order_relaxed) ||
           generation_.load(std::memory_order_acquire) != seen;
  };
  for (;;) {
    if (!SpinUntil(changed)) {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, changed);
    }
    if (stop_.load(std::memory_order_relaxed)) return;
    seen = generation_.load(std::memory_order_acquire);
    RunIndices();
    if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The caller may be asleep: notify under the lock, so that it cannot
      // miss the change between its check and its wait.
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int n, const std::function<void(int)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || current_pool == this) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  fn_ = &fn;
  n_ = n;
  next_.store(0, std::memory_order_relaxed);
  busy_workers_.store(static_cast<int>(workers_.size()),
                      std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();
  {
    InPool in_pool(this);
    RunIndices();
  }
  // Every worker takes part in every loop (if only to find no index left),
  // so none can still be reading fn_ / n_ when the next loop sets them.
  const auto done = [&] {
    return busy_workers_.load(std::memory_order_acquire) == 0;
  };
  if (!SpinUntil(done)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, done);
  }
}

}  // namespace fxserve::backends::cpu
