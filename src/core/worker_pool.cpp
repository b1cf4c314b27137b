#include "core/worker_pool.hpp"

#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace lodestar {
namespace {

class WorkerPool {
 public:
  // Serves one call at a time; false when another call holds the pool.
  bool try_run(int n, const std::function<void(int)>& job) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(threads_.size()) < n - 1) {
        const int k = static_cast<int>(threads_.size()) + 1;
        threads_.emplace_back([this, k] { serve(k); });
        threads_.back().detach();  // lives with the process; never joined at exit
      }
      job_ = &job;
      active_ = n;
      remaining_ = n - 1;
      ++generation_;
    }
    wake_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return remaining_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void serve(int k) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (k >= active_) continue;
      const std::function<void(int)>* job = job_;
      lock.unlock();
      (*job)(k);
      lock.lock();
      if (--remaining_ == 0) done_.notify_all();
    }
  }

  std::mutex busy_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* job_ = nullptr;
  int active_ = 0, remaining_ = 0;
  uint64_t generation_ = 0;
};

// The pool of this process. A child forked after the pool started has none
// of its threads (fork copies only the calling thread), so it starts its own.
WorkerPool& pool() {
  static std::mutex m;
  static WorkerPool* p = nullptr;  // never destroyed: its threads may outlive static destructors
  static pid_t owner = 0;
  std::lock_guard<std::mutex> lock(m);
  if (!p || owner != getpid()) p = new WorkerPool, owner = getpid();  // a forked child's copy is left unused
  return *p;
}

}  // namespace

void run_on_workers(int n, const std::function<void(int)>& job) {
  if (n <= 1) return job(0);
  if (pool().try_run(n, job)) return;
  std::vector<std::thread> own;
  for (int k = 1; k < n; ++k) own.emplace_back(job, k);
  job(0);
  for (auto& t : own) t.join();
}

}  // namespace lodestar
