using System.Runtime.InteropServices;

namespace Gadget.Bpf;

/// <summary>A map of a loaded object, by file descriptor (owned by the object).</summary>
public readonly unsafe struct BpfMap
{
    private const ulong BPF_ANY = 0;
    private const int ENOENT = 2;

    internal BpfMap(int fd, string name, int keySize)
    {
        Fd = fd;
        Name = name;
        KeySize = keySize;
    }

    public int Fd { get; }

    public string Name { get; }

    /// <summary>Bytes of each key.</summary>
    public int KeySize { get; }

    /// <summary>Adds or replaces an entry.</summary>
    public void Update<TKey, TValue>(TKey key, TValue value)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        if (Interop.Libbpf.bpf_map_update_elem(Fd, &key, &value, BPF_ANY) != 0)
        {
            throw BpfException.FromErrno(BpfErrorId.MapFailed, Marshal.GetLastPInvokeError(), $"update map '{Name}'");
        }
    }

    /// <summary>Reads an entry; false when it is not there.</summary>
    public bool TryLookup<TKey, TValue>(TKey key, out TValue value)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        TValue result;
        if (Interop.Libbpf.bpf_map_lookup_elem(Fd, &key, &result) == 0)
        {
            value = result;
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        value = default;
        return errno == ENOENT ? false : throw BpfException.FromErrno(BpfErrorId.MapFailed, errno, $"read map '{Name}'");
    }

    /// <summary>Removes an entry; false when it was not there.</summary>
    public bool Delete<TKey>(TKey key) where TKey : unmanaged
    {
        if (Interop.Libbpf.bpf_map_delete_elem(Fd, &key) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == ENOENT ? false : throw BpfException.FromErrno(BpfErrorId.MapFailed, errno, $"delete from map '{Name}'");
    }

    /// <summary>Removes every entry of a hash map, one key at a time (for maps of a few hundred entries at most).</summary>
    public void Clear()
    {
        byte* key = stackalloc byte[KeySize];
        while (Interop.Libbpf.bpf_map_get_next_key(Fd, null, key) == 0)
        {
            if (Interop.Libbpf.bpf_map_delete_elem(Fd, key) != 0 && Marshal.GetLastPInvokeError() != ENOENT)
            {
                throw BpfException.FromErrno(BpfErrorId.MapFailed, Marshal.GetLastPInvokeError(), $"empty map '{Name}'");
            }
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno != ENOENT)
        {
            throw BpfException.FromErrno(BpfErrorId.MapFailed, errno, $"empty map '{Name}'");
        }
    }

    /// <summary>The sum over all CPUs of a per-CPU array's 64-bit counter at <paramref name="index"/>.</summary>
    public ulong SumPerCpuCounter(uint index = 0)
    {
        int cpus = PossibleCpus;
        ulong* values = stackalloc ulong[cpus];
        if (Interop.Libbpf.bpf_map_lookup_elem(Fd, &index, values) != 0)
        {
            throw BpfException.FromErrno(BpfErrorId.MapFailed, Marshal.GetLastPInvokeError(), $"read map '{Name}'");
        }

        ulong sum = 0;
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            sum += values[cpu];
        }

        return sum;
    }

    /// <summary>How many per-CPU slots a per-CPU map has (libbpf's count of possible CPUs).</summary>
    public static int PossibleCpus { get; } = ReadPossibleCpus();

    private static int ReadPossibleCpus()
    {
        LibbpfResolver.EnsureRegistered();
        int cpus = Interop.Libbpf.libbpf_num_possible_cpus();
        return cpus > 0 ? cpus : Environment.ProcessorCount;
    }
}
