using System.Runtime.InteropServices;

namespace Gadget.Bpf;

/// <summary>Receives one entry a <see cref="HashMapDrainer"/> took out of its map; the spans are valid only during the call.</summary>
public delegate void MapEntrySink(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

/// <summary>
/// Reads and empties a hash map of a loaded object, in the kernel's order (bucket by bucket):
/// what a top gadget counted in one interval. It takes the entries out in batches
/// (BPF_MAP_LOOKUP_AND_DELETE_BATCH, one system call for many entries, each read and deleted at
/// once, so no count that lands in between is lost), or, on a kernel that refuses batches for the
/// map, key by key: every key first (get_next_key), then each one read and deleted.
/// </summary>
/// <remarks>Buffers are kept from drain to drain; use it from one thread at a time.</remarks>
public sealed unsafe class HashMapDrainer
{
    private const int ENOENT = 2;
    private const int EINVAL = 22;
    private const int ENOSPC = 28;
    private const int EOPNOTSUPP = 95;
    private const int ENOTSUPP = 524;

    /// <summary>Entries asked for per batch at first; a bucket holding more than that doubles it.</summary>
    private const int FirstBatchEntries = 256;

    private readonly BpfMap _map;
    private readonly int _keySize;
    private readonly int _valueSize;
    private readonly uint _maxEntries;
    private byte[] _keys = [];
    private byte[] _values = [];

    /// <param name="map">A BPF_MAP_TYPE_HASH or LRU_HASH map (not a per-CPU one: its values are per CPU).</param>
    /// <param name="keySize">sizeof its key.</param>
    /// <param name="valueSize">sizeof its value.</param>
    /// <param name="maxEntries">Its max_entries: no drain reads more than this many keys.</param>
    public HashMapDrainer(BpfMap map, int keySize, int valueSize, uint maxEntries)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(valueSize);
        _map = map;
        _keySize = keySize;
        _valueSize = valueSize;
        _maxEntries = Math.Max(1u, maxEntries);
    }

    /// <summary>
    /// Whether drains take entries in batches; false after the kernel refused a batch for this map
    /// (then every drain goes key by key). Set it false to go key by key from the start.
    /// </summary>
    public bool UsesBatches { get; set; } = true;

    /// <summary>Takes every entry out of the map, calling <paramref name="sink"/> for each; returns how many.</summary>
    public int Drain(MapEntrySink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (UsesBatches)
        {
            int? drained = DrainInBatches(sink);
            if (drained is int count)
            {
                return count;
            }

            UsesBatches = false;
        }

        return DrainKeyByKey(sink);
    }

    /// <summary>The batch way; null when the kernel refuses batches for this map before any entry was taken.</summary>
    private int? DrainInBatches(MapEntrySink sink)
    {
        int entries = Math.Min(FirstBatchEntries, (int)Math.Min(_maxEntries, int.MaxValue));
        Reserve(entries);
        ulong inBatch = 0;
        ulong outBatch = 0;
        bool first = true;
        int total = 0;
        while (true)
        {
            uint count = (uint)entries;
            int result;
            fixed (byte* keys = _keys)
            fixed (byte* values = _values)
            {
                result = Interop.Libbpf.bpf_map_lookup_and_delete_batch(_map.Fd, first ? null : &inBatch, &outBatch, keys, values, &count, null);
            }

            int errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
            if (result != 0 && errno == ENOSPC && count == 0)
            {
                // One bucket holds more keys than a batch takes: ask again, for more.
                if (entries >= _maxEntries)
                {
                    throw BpfException.FromErrno(BpfErrorId.MapFailed, errno, $"read map '{_map.Name}' in batches");
                }

                entries = (int)Math.Min((long)entries * 2, _maxEntries);
                Reserve(entries);
                continue;
            }

            if (result != 0 && errno != ENOENT)
            {
                if (first && total == 0 && errno is EINVAL or EOPNOTSUPP or ENOTSUPP)
                {
                    return null;
                }

                throw BpfException.FromErrno(BpfErrorId.MapFailed, errno, $"read and empty map '{_map.Name}'");
            }

            int taken = (int)Math.Min(count, (uint)entries);
            for (int i = 0; i < taken; i++)
            {
                sink(_keys.AsSpan(i * _keySize, _keySize), _values.AsSpan(i * _valueSize, _valueSize));
            }

            total += taken;
            if (result != 0)
            {
                return total; // ENOENT: the last buckets came with this call
            }

            inBatch = outBatch;
            first = false;
        }
    }

    private int DrainKeyByKey(MapEntrySink sink)
    {
        // Every key first: deleting while walking would make get_next_key start over.
        int limit = (int)Math.Min(_maxEntries, int.MaxValue / _keySize);
        Reserve(1);
        byte[] keys = _keys.Length >= limit * _keySize ? _keys : _keys = new byte[limit * _keySize];
        int found = 0;
        fixed (byte* all = keys)
        {
            byte* previous = null;
            while (found < limit)
            {
                byte* next = all + ((long)found * _keySize);
                if (Interop.Libbpf.bpf_map_get_next_key(_map.Fd, previous, next) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == ENOENT)
                    {
                        break;
                    }

                    throw BpfException.FromErrno(BpfErrorId.MapFailed, errno, $"list the keys of map '{_map.Name}'");
                }

                previous = next;
                found++;
            }
        }

        int total = 0;
        fixed (byte* all = keys)
        fixed (byte* value = _values)
        {
            for (int i = 0; i < found; i++)
            {
                byte* key = all + ((long)i * _keySize);
                if (Interop.Libbpf.bpf_map_lookup_elem(_map.Fd, key, value) != 0)
                {
                    continue; // gone in between
                }

                Interop.Libbpf.bpf_map_delete_elem(_map.Fd, key);
                sink(new ReadOnlySpan<byte>(key, _keySize), new ReadOnlySpan<byte>(value, _valueSize));
                total++;
            }
        }

        return total;
    }

    private void Reserve(int entries)
    {
        if (_keys.Length < entries * _keySize)
        {
            _keys = new byte[entries * _keySize];
        }

        if (_values.Length < entries * _valueSize)
        {
            _values = new byte[entries * _valueSize];
        }
    }
}
