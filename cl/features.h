// Prepended by the host to every kernel file (host/runtime/program.c): the
// one place where kernels reach compiler builtins. A builtin is used only
// where a probe build on the device accepted it (glf_ctx_features, built in
// a child process: a SPIR-V translator may end the process on one it cannot
// translate); the host then says so in the build options of the files that
// use it:
//   -DGLF_PREFETCH_OK=1  GLF_PREFETCH(p) is clang's __builtin_prefetch
//                        (prefetcht0 on x86; OpenCL's prefetch() is a
//                        no-op in PoCL), else nothing
//   -DGLF_NT=1           GLF_NT_STORE(v, p) is a non-temporal store of the
//                        vector v at p (aligned to its size), and GLF_NT_OK 1
#if defined(GLF_PREFETCH_OK) && GLF_PREFETCH_OK
#define GLF_PREFETCH(p) __builtin_prefetch(p)
#else
#define GLF_PREFETCH(p) ((void)0)
#endif

#if defined(GLF_NT) && GLF_NT
#define GLF_NT_OK 1
#define GLF_NT_STORE(v, p) __builtin_nontemporal_store((v), (p))
#else
#define GLF_NT_OK 0
#endif
