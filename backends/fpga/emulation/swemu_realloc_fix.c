// libfxserve_swemu_fix.so: an LD_PRELOAD workaround for two bugs of
// Debian's XRT 2.13 software-emulation shim (libxrt_swemu.so.2.13.0,
// package libxrt1). Real cards use another shim (libxrt_core): unaffected.
//
// 1. xclcpuemhal2::CpuemShim::alloc_void() grows the shim's RPC buffer with
//    realloc() but the binary never stores realloc's result, so the shim
//    writes every longer message into the old, freed block (heap
//    corruption, then SIGSEGV or "free(): invalid next size" on the first
//    load_xclbin; ASan reports a heap-use-after-free). Upstream rewrote
//    alloc_void in XRT 2.21. Workaround: a malloc() called from alloc_void
//    (the buffer's first allocation) is made big enough for any message the
//    shim sends (SW_EMU_PACKET_SIZE, default 8 MiB, plus slack), and a
//    realloc() called from there returns the same, already large enough,
//    block.
// 2. CpuemShim::xclMapBO() allocates a buffer's host copy with
//    posix_memalign() and xclUnmapBO() releases it with munmap(), which
//    punches a page-sized hole into the heap. glibc never touches the page
//    again, but LeakSanitizer scans it at exit and dies ("Tracer caught
//    signal 11"). Workaround: the blocks xclMapBO gets from posix_memalign
//    are remembered, and xclUnmapBO's munmap() of one is a free().
//
// The shim's functions are found when libxrt_swemu is dlopen()ed (their
// dynamic symbols and sizes); calls are recognized by their return
// address. Everything else is forwarded to the next definition in the
// lookup order (glibc's, or AddressSanitizer's in an ASan process), found
// with dlsym(RTLD_NEXT); allocations made while dlsym runs come from a
// small static arena.
//
// The launcher (emulation_env.h) finds this library with
// dlsym(RTLD_DEFAULT, "fxserve_swemu_fix_armed").
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FIX_EXPORT __attribute__((visibility("default")))

// Mangled xclcpuemhal2::CpuemShim::alloc_void(unsigned long),
// ::xclMapBO(unsigned int, bool) and ::xclUnmapBO(unsigned int, void*).
static const char kAllocVoid[] = "_ZN12xclcpuemhal29CpuemShim10alloc_voidEm";
static const char kMapBo[] = "_ZN12xclcpuemhal29CpuemShim8xclMapBOEjb";
static const char kUnmapBo[] = "_ZN12xclcpuemhal29CpuemShim10xclUnmapBOEjPv";
// The shim's default SW_EMU_PACKET_SIZE, and room for a message's fields.
static const size_t kDefaultPacketBytes = 0x800000;
static const size_t kSlackBytes = 1u << 20;

typedef void* (*MallocFn)(size_t);
typedef void* (*ReallocFn)(void*, size_t);
typedef void (*FreeFn)(void*);
typedef void* (*DlopenFn)(const char*, int);
typedef int (*PosixMemalignFn)(void**, size_t, size_t);
typedef int (*MunmapFn)(void*, size_t);

static MallocFn next_malloc;
static ReallocFn next_realloc;
static FreeFn next_free;
static DlopenFn next_dlopen;
static PosixMemalignFn next_posix_memalign;
static MunmapFn next_munmap;

// A shim function's code, [begin, end); begin is 0 until it is found.
typedef struct {
  uintptr_t begin;
  uintptr_t end;
} CodeRange;

static CodeRange alloc_void;
static CodeRange map_bo;
static CodeRange unmap_bo;
static size_t buffer_bytes;  // What alloc_void's first malloc gets.
static unsigned long absorbed_reallocs;
static unsigned long freed_unmaps;

// ---------------------------------------------------------------------------
// Bootstrap arena: serves malloc() while dlsym() looks up the next malloc.
// Its blocks are never given back.

enum { kArenaBytes = 64 * 1024, kArenaHeader = 16 };
static _Alignas(16) unsigned char arena[kArenaBytes];
static size_t arena_used;
static __thread int resolving __attribute__((tls_model("initial-exec")));

static int InArena(const void* p) {
  const unsigned char* c = (const unsigned char*)p;
  return c >= arena && c < arena + kArenaBytes;
}

static void* ArenaAlloc(size_t n) {
  const size_t need = kArenaHeader + ((n + 15) & ~(size_t)15);
  const size_t at = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
  if (need > kArenaBytes || at > kArenaBytes - need) return NULL;
  memcpy(arena + at, &n, sizeof(n));
  return arena + at + kArenaHeader;
}

static size_t ArenaSize(const void* p) {
  size_t n;
  memcpy(&n, (const unsigned char*)p - kArenaHeader, sizeof(n));
  return n;
}

static void Die(const char* message) {
  const char prefix[] = "libfxserve_swemu_fix: ";
  ssize_t ignored = write(2, prefix, sizeof(prefix) - 1);
  ignored = write(2, message, strlen(message));
  ignored = write(2, "\n", 1);
  (void)ignored;
  abort();
}

// dlsym(RTLD_NEXT, name) into a function pointer (copied: ISO C has no
// cast from an object pointer to a function pointer).
static int Next(const char* name, void* function_pointer, size_t bytes) {
  void* address = dlsym(RTLD_NEXT, name);
  memcpy(function_pointer, &address, bytes);
  return address != NULL;
}

// Looks up the definitions this library hides. Safe to call again.
static void Resolve(void) {
  MallocFn m;
  ReallocFn r;
  FreeFn f;
  DlopenFn d;
  PosixMemalignFn p;
  MunmapFn u;
  resolving = 1;
  const int found =
      Next("malloc", &m, sizeof(m)) & Next("realloc", &r, sizeof(r)) &
      Next("free", &f, sizeof(f)) & Next("dlopen", &d, sizeof(d)) &
      Next("posix_memalign", &p, sizeof(p)) & Next("munmap", &u, sizeof(u));
  resolving = 0;
  if (!found) Die("dlsym(RTLD_NEXT) misses malloc, free, dlopen or munmap");
  __atomic_store_n(&next_realloc, r, __ATOMIC_RELEASE);
  __atomic_store_n(&next_free, f, __ATOMIC_RELEASE);
  __atomic_store_n(&next_dlopen, d, __ATOMIC_RELEASE);
  __atomic_store_n(&next_posix_memalign, p, __ATOMIC_RELEASE);
  __atomic_store_n(&next_munmap, u, __ATOMIC_RELEASE);
  __atomic_store_n(&next_malloc, m, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void ResolveAtLoad(void) {
  if (!__atomic_load_n(&next_malloc, __ATOMIC_ACQUIRE)) Resolve();
}

static int Resolved(void) {
  if (__atomic_load_n(&next_malloc, __ATOMIC_ACQUIRE)) return 1;
  if (resolving) return 0;
  Resolve();
  return 1;
}

static int CalledFrom(const CodeRange* range, const void* return_address) {
  const uintptr_t ra = (uintptr_t)return_address;
  const uintptr_t begin = __atomic_load_n(&range->begin, __ATOMIC_ACQUIRE);
  return begin != 0 && ra > begin && ra < range->end;
}

// ---------------------------------------------------------------------------
// The heap blocks xclMapBO got from posix_memalign (open addressing; a full
// table just leaves the shim's own behaviour).

enum { kMappedSlots = 1 << 14 };
static uintptr_t mapped[kMappedSlots];  // 0 empty, 1 deleted.
static int mapped_lock;

static void Lock(void) {
  while (__atomic_test_and_set(&mapped_lock, __ATOMIC_ACQUIRE)) {
  }
}

static void Unlock(void) { __atomic_clear(&mapped_lock, __ATOMIC_RELEASE); }

static size_t Slot(uintptr_t p) { return (p >> 12) * 2654435761u; }

static void RememberMapped(void* block) {
  const uintptr_t p = (uintptr_t)block;
  Lock();
  for (size_t i = 0; i < kMappedSlots; ++i) {
    uintptr_t* slot = &mapped[(Slot(p) + i) % kMappedSlots];
    if (*slot <= 1) {
      *slot = p;
      break;
    }
  }
  Unlock();
}

// 1 if `block` was remembered (and now is not).
static int ForgetMapped(void* block) {
  const uintptr_t p = (uintptr_t)block;
  int found = 0;
  Lock();
  for (size_t i = 0; i < kMappedSlots; ++i) {
    uintptr_t* slot = &mapped[(Slot(p) + i) % kMappedSlots];
    if (*slot == 0) break;
    if (*slot == p) {
      *slot = 1;
      found = 1;
      break;
    }
  }
  Unlock();
  return found;
}

// ---------------------------------------------------------------------------
// Finding the shim's functions once it is loaded.

static size_t PacketBytes(void) {
  const char* text = getenv("SW_EMU_PACKET_SIZE");
  const unsigned long long n = text ? strtoull(text, NULL, 0) : 0;
  return n != 0 && n <= 0xffffffffull ? (size_t)n : kDefaultPacketBytes;
}

static void FindFunction(void* handle, const char* name, CodeRange* range) {
  void* f = dlsym(handle, name);
  Dl_info info;
  const ElfW(Sym)* symbol = NULL;
  if (!f) {
    dlerror();  // Keep the caller's dlerror() state clean.
  } else if (dladdr1(f, &info, (void**)&symbol, RTLD_DL_SYMENT) && symbol &&
             info.dli_saddr == f && symbol->st_size != 0) {
    range->end = (uintptr_t)f + symbol->st_size;
    __atomic_store_n(&range->begin, (uintptr_t)f, __ATOMIC_RELEASE);
  }
}

static void Arm(void* handle) {
  buffer_bytes = PacketBytes() + kSlackBytes;
  FindFunction(handle, kMapBo, &map_bo);
  FindFunction(handle, kUnmapBo, &unmap_bo);
  FindFunction(handle, kAllocVoid, &alloc_void);
}

// ---------------------------------------------------------------------------
// The interposed functions. Each one ends in a tail call of the next
// definition (the build compiles this file with -O2): LeakSanitizer treats
// the dynamic loader's allocations as reachable only if the loader, not
// this library, is the allocator's caller.

FIX_EXPORT void* malloc(size_t n) {
  const void* ra = __builtin_return_address(0);
  if (!Resolved()) return ArenaAlloc(n);
  if (n < buffer_bytes && CalledFrom(&alloc_void, ra)) n = buffer_bytes;
  return next_malloc(n);
}

FIX_EXPORT void* realloc(void* p, size_t n) {
  const void* ra = __builtin_return_address(0);
  if (p && InArena(p)) {
    void* q = malloc(n);
    const size_t old = ArenaSize(p);
    if (q) memcpy(q, p, old < n ? old : n);
    return q;
  }
  if (!Resolved()) return ArenaAlloc(n);
  if (p && CalledFrom(&alloc_void, ra)) {
    // alloc_void ignores the result: the block must already be big enough.
    if (malloc_usable_size(p) < n) {
      Die("an XRT sw_emu message is larger than the RPC buffer; raise "
          "SW_EMU_PACKET_SIZE");
    }
    __atomic_fetch_add(&absorbed_reallocs, 1, __ATOMIC_RELAXED);
    return p;
  }
  return next_realloc(p, n);
}

FIX_EXPORT void free(void* p) {
  if (!p || InArena(p)) return;
  if (Resolved()) next_free(p);
}

FIX_EXPORT void* dlopen(const char* file, int mode) {
  if (!Resolved()) return NULL;
  void* handle = next_dlopen(file, mode);
  if (handle && file && strstr(file, "libxrt_swemu") &&
      !__atomic_load_n(&alloc_void.begin, __ATOMIC_ACQUIRE)) {
    Arm(handle);
  }
  return handle;
}

FIX_EXPORT int posix_memalign(void** out, size_t alignment, size_t n) {
  const void* ra = __builtin_return_address(0);
  if (!Resolved()) return ENOMEM;
  const int error = next_posix_memalign(out, alignment, n);
  if (error == 0 && CalledFrom(&map_bo, ra)) RememberMapped(*out);
  return error;
}

FIX_EXPORT int munmap(void* address, size_t n) {
  const void* ra = __builtin_return_address(0);
  if (!Resolved()) return (int)syscall(SYS_munmap, address, n);
  if (CalledFrom(&unmap_bo, ra) && ForgetMapped(address)) {
    free(address);
    __atomic_fetch_add(&freed_unmaps, 1, __ATOMIC_RELAXED);
    return 0;
  }
  return next_munmap(address, n);
}

// In an AddressSanitizer process LeakSanitizer asks this (the first
// definition in the lookup order wins over its runtime's empty default):
// libxrt_swemu never deletes its buffer objects, and those leaks are XRT's,
// not the program's. Whatever a later definition adds is kept.
FIX_EXPORT const char* __lsan_default_suppressions(void) {
  static char text[4096];
  static const char kOwn[] = "leak:libxrt_swemu.so\n";
  const char* (*next)(void) = NULL;
  const char* more = NULL;
  if (Next("__lsan_default_suppressions", &next, sizeof(next)) && next) {
    more = next();
  }
  snprintf(text, sizeof(text), "%s%s", kOwn, more ? more : "");
  return text;
}

// ---------------------------------------------------------------------------
// What the launcher and the tests ask.

// 1 once alloc_void was found in a loaded libxrt_swemu, else 0.
FIX_EXPORT int fxserve_swemu_fix_armed(void) {
  return __atomic_load_n(&alloc_void.begin, __ATOMIC_ACQUIRE) != 0;
}

// How many of alloc_void's realloc() calls were turned into no-ops.
FIX_EXPORT unsigned long fxserve_swemu_fix_absorbed_reallocs(void) {
  return __atomic_load_n(&absorbed_reallocs, __ATOMIC_RELAXED);
}

// How many of xclUnmapBO's munmap() calls on heap blocks became free().
FIX_EXPORT unsigned long fxserve_swemu_fix_freed_unmaps(void) {
  return __atomic_load_n(&freed_unmaps, __ATOMIC_RELAXED);
}
