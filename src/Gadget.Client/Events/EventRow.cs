using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Gadget.Schema;

namespace Gadget.Tracing;

/// <summary>
/// Where one field of a trace's schema is in a row: its offset in the fixed block, or its index
/// among the variable parts. A field the schema lacks reads as its type's default, so a typed
/// event still reads rows of an agent whose program has one field fewer.
/// </summary>
internal readonly struct FieldRef
{
    private FieldRef(int offset, int size, int variableIndex, bool signed)
    {
        Offset = offset;
        Size = size;
        VariableIndex = variableIndex;
        Signed = signed;
    }

    /// <summary>The field is not in this schema.</summary>
    public static FieldRef Missing { get; } = new(-1, 0, -1, false);

    internal int Offset { get; }

    internal int Size { get; }

    internal int VariableIndex { get; }

    internal bool Signed { get; }

    public bool IsPresent => Offset >= 0 || VariableIndex >= 0;

    internal static FieldRef To(SchemaField? field) => field is null
        ? Missing
        : new FieldRef(field.IsFixed ? field.Offset : -1, field.IsFixed ? field.Size : 0, field.IsFixed ? -1 : field.VariableIndex, field.Signed);
}

/// <summary>
/// One row of a trace, as the typed events' constructors read it: the fixed block, and the
/// variable parts the decoder has located. Reads never run past the row; a malformed row throws
/// <see cref="InvalidDataException"/>. Every read is compiled fully optimized on first use: a new
/// pwsh reads its first trace's rows at full speed, not at the JIT's first tiers.
/// </summary>
internal readonly ref struct EventRow
{
    private readonly ReadOnlySpan<byte> _row;
    private readonly ReadOnlySpan<int> _variables;

    internal EventRow(ReadOnlySpan<byte> row, ReadOnlySpan<int> variables, EventBinding binding)
    {
        _row = row;
        _variables = variables;
        Binding = binding;
    }

    /// <summary>How this trace's schema maps onto the event type being made.</summary>
    internal EventBinding Binding { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong UInt64(FieldRef field)
    {
        if (field.Offset < 0)
        {
            return 0;
        }

        ReadOnlySpan<byte> bytes = _row.Slice(field.Offset, field.Size);
        return field.Size switch
        {
            1 => bytes[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        };
    }

    /// <summary>An integer field, sign-extended when the field is signed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Int64(FieldRef field)
    {
        ulong value = UInt64(field);
        if (!field.Signed || field.Size >= 8)
        {
            return (long)value;
        }

        int shift = 64 - (field.Size * 8);
        return (long)(value << shift) >> shift;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public uint UInt32(FieldRef field) => (uint)UInt64(field);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Int32(FieldRef field) => (int)Int64(field);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ushort UInt16(FieldRef field) => (ushort)UInt64(field);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Boolean(FieldRef field) => UInt64(field) != 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Double(FieldRef field) => field.Offset < 0 ? 0
        : field.Size == 4 ? BinaryPrimitives.ReadSingleLittleEndian(_row.Slice(field.Offset, 4)) : BinaryPrimitives.ReadDoubleLittleEndian(_row.Slice(field.Offset, 8));

    /// <summary>A variable part's bytes; empty when the field is missing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> Bytes(FieldRef field)
    {
        if (field.VariableIndex < 0)
        {
            return [];
        }

        int start = _variables[field.VariableIndex * 2];
        return _row.Slice(start, _variables[(field.VariableIndex * 2) + 1]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string String(FieldRef field)
    {
        ReadOnlySpan<byte> bytes = Bytes(field);
        return bytes.IsEmpty ? string.Empty : Encoding.UTF8.GetString(bytes);
    }

    /// <summary>NUL-separated strings (argv): "a\0\0b\0" is a, "", b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string[] Strings(FieldRef field)
    {
        ReadOnlySpan<byte> bytes = Bytes(field);
        var values = new List<string>();
        while (!bytes.IsEmpty)
        {
            int end = bytes.IndexOf((byte)0);
            values.Add(Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]));
            bytes = end < 0 ? [] : bytes[(end + 1)..];
        }

        return [.. values];
    }

    /// <summary>An address list (each a length byte, 4 or 16, and the address).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public IPAddress[] Addresses(FieldRef field)
    {
        ReadOnlySpan<byte> bytes = Bytes(field);
        var addresses = new List<IPAddress>();
        while (!bytes.IsEmpty)
        {
            int length = bytes[0];
            if (length is not (4 or 16) || bytes.Length < 1 + length)
            {
                throw new InvalidDataException("The agent sent a malformed address list.");
            }

            addresses.Add(new IPAddress(bytes.Slice(1, length)));
            bytes = bytes[(1 + length)..];
        }

        return [.. addresses];
    }

    /// <summary>An L3 or L4 endpoint field as an address and port (port 0 for L3); IPAddress.None when the version is neither 4 nor 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public IPEndPoint EndPoint(FieldRef field)
    {
        if (field.Offset < 0)
        {
            return new IPEndPoint(IPAddress.None, 0);
        }

        ReadOnlySpan<byte> bytes = _row.Slice(field.Offset, field.Size);
        bool isL4 = field.Size == TraceSchema.L4EndpointSize;
        byte version = bytes[isL4 ? 20 : 16];
        IPAddress address = version switch
        {
            4 => new IPAddress(bytes[..4]),
            6 => new IPAddress(bytes[..16]),
            _ => IPAddress.None,
        };
        return new IPEndPoint(address, isL4 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[16..]) : 0);
    }

    /// <summary>The IP protocol number of an L4 endpoint field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int EndPointProtocol(FieldRef field)
        => field.Offset >= 0 && field.Size == TraceSchema.L4EndpointSize ? BinaryPrimitives.ReadUInt16LittleEndian(_row.Slice(field.Offset + 18, 2)) : 0;

    /// <summary>
    /// Wall-clock time of a boot-clock timestamp field, in this machine's zone (Kind Local), as
    /// Get-Date, Get-Process and Get-WinEvent give it: compared with Get-Date it is right in any
    /// zone, and tables show the local time. The wire keeps boot-clock nanoseconds and the boot time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public DateTime Time(FieldRef field)
    {
        ulong bootNs = UInt64(field);
        return DateTime.UnixEpoch.AddTicks((long)((bootNs + (ulong)Binding.BootTimeUnixNs) / 100)).ToLocalTime();
    }

    /// <summary>A duration field (nanoseconds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public TimeSpan Duration(FieldRef field) => TimeSpan.FromTicks((long)(UInt64(field) / 100));

    /// <summary>A process name, from the decoder's cache when it repeats (it mostly does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal string Comm(FieldRef field) => Binding.Names.Get(Bytes(field));

    /// <summary>A thread's own name; null when the program sent none (it is the process's name, or the program has no such field).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal string? ThreadName(FieldRef field)
    {
        ReadOnlySpan<byte> bytes = Bytes(field);
        return bytes.IsEmpty ? null : Binding.ThreadNames.Get(bytes);
    }
}

/// <summary>
/// How one trace's schema maps onto an event type: the place of each field the type reads, found
/// once when the schema arrives. Each typed event has a binding of its own that adds its fields;
/// this base holds what every event has.
/// </summary>
internal class EventBinding
{
    public EventBinding(TraceSchema schema, long bootTimeUnixNs)
    {
        Schema = schema;
        BootTimeUnixNs = bootTimeUnixNs;
        Timestamp = Field(schema.First(WellKnownType.Timestamp));
        Pid = Field(schema.First(WellKnownType.Pid));
        Tid = Field(schema.First(WellKnownType.Tid));
        Ppid = Field(schema.First(WellKnownType.Ppid));
        Uid = Field(schema.First(WellKnownType.Uid));
        Gid = Field(schema.First(WellKnownType.Gid));
        Comm = Field(schema.First(WellKnownType.Comm));
        ThreadComm = Field(schema.First(WellKnownType.ThreadComm));
        MountNsId = Field(schema.First(WellKnownType.MountNsId));
        NetNsId = Field(schema.First(WellKnownType.NetNsId));
    }

    public TraceSchema Schema { get; }

    public long BootTimeUnixNs { get; }

    internal FieldRef Timestamp { get; }

    internal FieldRef Pid { get; }

    internal FieldRef Tid { get; }

    internal FieldRef Ppid { get; }

    internal FieldRef Uid { get; }

    internal FieldRef Gid { get; }

    internal FieldRef Comm { get; }

    internal FieldRef ThreadComm { get; }

    internal FieldRef MountNsId { get; }

    internal FieldRef NetNsId { get; }

    internal NameCache Names { get; } = new();

    internal NameCache ThreadNames { get; } = new();

    /// <summary>The field called <paramref name="name"/> (its struct path, or a derived field's name).</summary>
    protected FieldRef Field(string name) => FieldRef.To(Schema.Field(name));

    private static FieldRef Field(SchemaField? field) => FieldRef.To(field);
}

/// <summary>Consecutive events mostly come from one process: its name is decoded once, not per event.</summary>
internal sealed class NameCache
{
    private byte[] _lastBytes = [];
    private string _last = string.Empty;

    public string Get(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.SequenceEqual(_lastBytes))
        {
            _lastBytes = bytes.ToArray();
            _last = Encoding.UTF8.GetString(bytes);
        }

        return _last;
    }
}
