// A process-wide pool of threads for C++ work split over cores. The threads
// live as long as the process: per-thread scratch memory (thread_local, as
// the crossmatch kernel keeps) is then reused from call to call, where fresh
// threads would fault in fresh pages every time.
#pragma once

#include <functional>

namespace lodestar {

// Runs job(k) for k in [0, n): job(0) on the calling thread, the others on
// pool threads; returns when all have returned. Calls from several threads
// at once are served one at a time by the pool; a call that finds the pool
// busy runs its jobs on threads of its own. `job` must not throw.
void run_on_workers(int n, const std::function<void(int)>& job);

}  // namespace lodestar
