using System.Runtime.InteropServices;

#pragma warning disable CS8981 // C names are kept on purpose (see the summary below).

namespace Gadget.Bpf;

/// <summary>
/// libbpf 1.1 imports (Debian's libbpf1). C names are kept so each line can be checked against
/// libbpf.h. Pointer-returning calls report failure as NULL plus errno; int calls as -errno.
/// </summary>
internal static unsafe partial class Interop
{
    internal const string LibbpfName = "libbpf.so.1";
    internal const string LibcName = "libc";

    internal static partial class Libbpf
    {
        /// <summary>struct bpf_object_open_opts of libbpf 1.1 (x86-64 layout, 80 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct bpf_object_open_opts
        {
            public nuint sz;
            public byte* object_name;
            public byte relaxed_maps;
            public byte* pin_root_path;
            public uint attach_prog_fd_removed;
            public byte* kconfig;
            public byte* btf_custom_path;
            public byte* kernel_log_buf;
            public nuint kernel_log_size;
            public uint kernel_log_level;
        }

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial nint bpf_object__open_mem(void* obj_buf, nuint obj_buf_sz, bpf_object_open_opts* opts);

        [LibraryImport(LibbpfName)]
        internal static partial int bpf_object__load(nint obj);

        [LibraryImport(LibbpfName)]
        internal static partial void bpf_object__close(nint obj);

        [LibraryImport(LibbpfName)]
        internal static partial nint bpf_object__find_program_by_name(nint obj, byte* name);

        [LibraryImport(LibbpfName)]
        internal static partial nint bpf_object__find_map_by_name(nint obj, byte* name);

        [LibraryImport(LibbpfName)]
        internal static partial nint bpf_object__btf(nint obj);

        [LibraryImport(LibbpfName)]
        internal static partial int bpf_program__set_autoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

        [LibraryImport(LibbpfName)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static partial bool bpf_program__autoload(nint prog);

        [LibraryImport(LibbpfName)]
        internal static partial nint bpf_object__next_program(nint obj, nint prev);

        [LibraryImport(LibbpfName)]
        internal static partial byte* bpf_program__name(nint prog);

        [LibraryImport(LibbpfName)]
        internal static partial byte* bpf_program__section_name(nint prog);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial nint bpf_program__attach(nint prog);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial nint bpf_program__attach_cgroup(nint prog, int cgroup_fd);

        [LibraryImport(LibbpfName)]
        internal static partial int bpf_link__destroy(nint link);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial nint bpf_program__attach_iter(nint prog, void* opts);

        [LibraryImport(LibbpfName)]
        internal static partial int bpf_link__fd(nint link);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial int bpf_iter_create(int link_fd);

        [LibraryImport(LibbpfName)]
        internal static partial int bpf_map__fd(nint map);

        [LibraryImport(LibbpfName)]
        internal static partial int bpf_map__set_max_entries(nint map, uint max_entries);

        [LibraryImport(LibbpfName)]
        internal static partial uint bpf_map__max_entries(nint map);

        [LibraryImport(LibbpfName)]
        internal static partial uint bpf_map__key_size(nint map);

        [LibraryImport(LibbpfName)]
        internal static partial nint bpf_object__next_map(nint obj, nint prev);

        [LibraryImport(LibbpfName)]
        internal static partial byte* bpf_map__name(nint map);

        [LibraryImport(LibbpfName)]
        internal static partial int bpf_map__set_initial_value(nint map, void* data, nuint size);

        [LibraryImport(LibbpfName)]
        internal static partial void* bpf_map__initial_value(nint map, nuint* psize);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial int bpf_map_delete_elem(int fd, void* key);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial int bpf_map_get_next_key(int fd, void* key, void* next_key);

        /// <remarks>opts may be null (no flags).</remarks>
        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial int bpf_map_lookup_and_delete_batch(int fd, void* in_batch, void* out_batch, void* keys, void* values, uint* count, void* opts);

        [LibraryImport(LibbpfName, SetLastError = true)]
        internal static partial nint ring_buffer__new(
            int map_fd,
            delegate* unmanaged<void*, void*, nuint, int> sample_cb,
            void* ctx,
            void* opts);

        [LibraryImport(LibbpfName)]
        internal static partial int ring_buffer__poll(nint rb, int timeout_ms);

        [LibraryImport(LibbpfName)]
        internal static partial int ring_buffer__consume(nint rb);

        [LibraryImport(LibbpfName)]
        internal static partial void ring_buffer__free(nint rb);

        [LibraryImport(LibbpfName)]
        internal static partial int btf__find_by_name_kind(nint btf, byte* type_name, uint kind);

        [LibraryImport(LibbpfName)]
        internal static partial btf_type* btf__type_by_id(nint btf, uint id);

        [LibraryImport(LibbpfName)]
        internal static partial byte* btf__name_by_offset(nint btf, uint offset);

        [LibraryImport(LibbpfName)]
        internal static partial long btf__resolve_size(nint btf, uint type_id);

        [LibraryImport(LibbpfName)]
        internal static partial nint libbpf_set_print(delegate* unmanaged<int, byte*, nint, int> fn);

        [LibraryImport(LibbpfName)]
        internal static partial int libbpf_num_possible_cpus();

        internal const uint BTF_KIND_STRUCT = 4;
        internal const uint BTF_KIND_DATASEC = 15;

        [StructLayout(LayoutKind.Sequential)]
        internal struct btf_type
        {
            public uint name_off;
            public uint info;
            public uint size_or_type;

            public readonly uint Kind => (info >> 24) & 0x1f;
            public readonly int Vlen => (int)(info & 0xffff);
            public readonly bool KindFlag => (info >> 31) != 0;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct btf_member
        {
            public uint name_off;
            public uint type;
            public uint offset;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct btf_var_secinfo
        {
            public uint type;
            public uint offset;
            public uint size;
        }
    }

    internal static partial class Libc
    {
        internal const int CLOCK_REALTIME = 0;
        internal const int CLOCK_BOOTTIME = 7;

        [StructLayout(LayoutKind.Sequential)]
        internal struct timespec
        {
            public long tv_sec;
            public long tv_nsec;
        }

        [LibraryImport(LibcName)]
        internal static partial int clock_gettime(int clockid, timespec* tp);

        internal const int O_RDONLY = 0;
        internal const int O_CLOEXEC = 0x80000; // same value on x86-64 and arm64

        [LibraryImport(LibcName, SetLastError = true)]
        internal static partial int open(byte* pathname, int flags);

        [LibraryImport(LibcName)]
        internal static partial int close(int fd);

        [LibraryImport(LibcName, SetLastError = true)]
        internal static partial nint read(int fd, byte* buf, nuint count);

        // va_list is passed as a pointer on x86-64 and arm64 Linux, which is how libbpf hands it over.
        [LibraryImport(LibcName)]
        internal static partial int vsnprintf(byte* str, nuint size, byte* format, nint args);
    }
}
