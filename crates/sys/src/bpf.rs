//! The bpf(2) syscall, for cgroup v2 device filters (BPF_PROG_TYPE_CGROUP_DEVICE).
