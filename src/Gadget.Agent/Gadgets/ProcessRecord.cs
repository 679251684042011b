using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Gadgets;

/// <summary>Mirror of <c>struct gadget_process</c> (bpf/include/gadget/types.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ProcessRecord
{
    public ulong MntnsId;
    public ulong NetnsId;
    public uint Pid;
    public uint Tid;
    public uint Ppid;
    public uint Uid;
    public uint Gid;
    public fixed byte Comm[16];
    public uint Pad;
}

/// <summary>Reading helpers every decoder uses.</summary>
internal static class RecordReader
{
    /// <summary>Reads the fixed part of a record; throws when the record is too short.</summary>
    public static ref readonly T Header<T>(ReadOnlySpan<byte> record) where T : unmanaged
    {
        if (record.Length < Unsafe.SizeOf<T>())
        {
            throw new MalformedRecordException($"A {typeof(T).Name} needs {Unsafe.SizeOf<T>()} bytes, the record has {record.Length}.");
        }

        return ref MemoryMarshal.AsRef<T>(record);
    }

    /// <summary>A NUL-terminated UTF-8 string in a fixed buffer.</summary>
    public static string CString(ReadOnlySpan<byte> buffer)
    {
        int end = buffer.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]);
    }
}

/// <summary>
/// Short strings that repeat (an executable's path, argv[0]): up to 16 bytes, decoded once per
/// poll thread and then returned as the same instance, which saves an allocation and a UTF-8
/// decode per event. Longer ones are decoded each time.
/// </summary>
internal static class ShortStringCache
{
    public const int MaxBytes = 16;

    [ThreadStatic]
    private static Dictionary<ShortBytesKey, string>? _cache;

    public static string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxBytes)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        Span<byte> padded = stackalloc byte[MaxBytes];
        padded.Clear();
        utf8.CopyTo(padded);
        var key = new ShortBytesKey(MemoryMarshal.Read<UInt128>(padded), utf8.Length);
        Dictionary<ShortBytesKey, string> cache = _cache ??= [];
        if (!cache.TryGetValue(key, out string? value))
        {
            if (cache.Count > 4096)
            {
                cache.Clear();
            }

            value = Encoding.UTF8.GetString(utf8);
            cache[key] = value;
        }

        return value;
    }
}

/// <summary>
/// Process names repeat endlessly in a trace; decoding each one anew is most of a small event's
/// allocation. A small cache keyed by the raw 16 bytes returns the same string instance.
/// </summary>
internal static class CommCache
{
    [ThreadStatic]
    private static Dictionary<ShortBytesKey, string>? _cache;

    public static string Get(ReadOnlySpan<byte> comm16)
    {
        var key = new ShortBytesKey(MemoryMarshal.Read<UInt128>(comm16), comm16.Length);
        Dictionary<ShortBytesKey, string> cache = _cache ??= [];
        if (!cache.TryGetValue(key, out string? value))
        {
            if (cache.Count > 4096)
            {
                cache.Clear();
            }

            value = RecordReader.CString(comm16);
            cache[key] = value;
        }

        return value;
    }
}

/// <summary>
/// Up to 16 bytes and their length, as a cache key. Its hash is two multiplies: enough to spread a
/// few thousand keys, where UInt128's and a tuple's (HashCode.Combine, twice) took about 3 % of
/// the agent's samples in a 500 k events/s trace.
/// </summary>
internal readonly record struct ShortBytesKey(UInt128 Bytes, int Length)
{
    public override int GetHashCode()
        => (int)((((ulong)Bytes * 0x9E3779B97F4A7C15UL) ^ ((ulong)(Bytes >> 64) * 0xC2B2AE3D27D4EB4FUL)) >> 32) ^ Length;
}
