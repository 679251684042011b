using System.Buffers.Binary;

namespace Gadget.Schema;

/// <summary>How a field's bytes are read.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The names of the C kinds they stand for.")]
public enum FieldKind
{
    /// <summary>A C bool (BTF INT with the BOOL encoding, or named bool/_Bool).</summary>
    Bool,

    /// <summary>An integer of 1, 2, 4 or 8 bytes, <see cref="FieldSchema.Signed"/> or not; or a bitfield.</summary>
    Int,

    /// <summary>An IEEE float of 4 or 8 bytes.</summary>
    Float,

    /// <summary>A C enum: an integer with names in <see cref="FieldSchema.EnumMembers"/>.</summary>
    Enum,

    /// <summary>A NUL-terminated string in a char array.</summary>
    String,

    /// <summary>NUL-separated strings in a char array (argv).</summary>
    StringList,

    /// <summary>Opaque bytes: other arrays, unions, structs kept whole.</summary>
    Bytes,

    /// <summary>An IP address with its version; see <see cref="FieldSchema.Endpoint"/>.</summary>
    L3Endpoint,

    /// <summary>An IP address, port and protocol; see <see cref="FieldSchema.Endpoint"/>.</summary>
    L4Endpoint,

    /// <summary>A kernel pointer, 8 bytes.</summary>
    Pointer,

    /// <summary>IP addresses a gadget derives (a DNS answer's): not in any struct, only in rows.</summary>
    AddressList,
}

/// <summary>What a field means, from the gadget_* typedef (or endpoint struct) it was declared with.</summary>
public enum WellKnownType
{
    None,
    Timestamp,
    MountNsId,
    NetNsId,
    Pid,
    Tid,
    Ppid,
    Ptid,
    Comm,
    Pcomm,
    Uid,
    Gid,
    Errno,
    Signal,
    Syscall,
    FileFlags,
    FileMode,
    ByteCount,
    Duration,
    KernelStack,
    Argv,
    L3Endpoint,
    L4Endpoint,

    /// <summary>A thread's own name (gadget_thread_comm), where it differs from its process's.</summary>
    ThreadComm,
}

/// <summary>
/// Where the parts of an endpoint struct sit, in bytes from the start of the field, so a decoder
/// reads them without knowing which C layout the program was compiled with.
/// </summary>
/// <param name="AddressOffset">The 16 address bytes (IPv4 in the first 4, network order).</param>
/// <param name="VersionOffset">The u8 IP version, 4 or 6.</param>
/// <param name="PortOffset">The u16 port in host order; null for an L3 endpoint.</param>
/// <param name="ProtoOffset">The IP protocol number (6 TCP, 17 UDP); null when the layout has none.</param>
/// <param name="ProtoSize">The protocol's size in bytes (1, 2 or 4); 0 when there is none.</param>
public sealed record EndpointLayout(int AddressOffset, int VersionOffset, int? PortOffset, int? ProtoOffset, int ProtoSize);

/// <summary>One flattened field of an event struct (or the value of one variable).</summary>
public sealed class FieldSchema
{
    internal FieldSchema(string path, int offset, int size, FieldKind kind, string typeName)
    {
        Path = path;
        Name = path[(path.LastIndexOf('.') + 1)..];
        Offset = offset;
        Size = size;
        Kind = kind;
        TypeName = typeName;
    }

    /// <summary>The dotted member path from the event struct: <c>proc.pid</c>.</summary>
    public string Path { get; }

    /// <summary>The last segment of <see cref="Path"/>.</summary>
    public string Name { get; }

    /// <summary>
    /// The offset in bytes from the start of the record. For a bitfield, the start of the bytes
    /// that hold it; see <see cref="BitOffset"/>.
    /// </summary>
    public int Offset { get; }

    /// <summary>
    /// The size in bytes: of the whole array for an array, of the bytes to read (1, 2, 4 or 8,
    /// little-endian) for a bitfield.
    /// </summary>
    public int Size { get; }

    public FieldKind Kind { get; }

    public WellKnownType WellKnown { get; internal init; }

    /// <summary>The C type as written: the outermost typedef's name, else the type's own (<c>struct foo</c>, <c>char[16]</c>).</summary>
    public string TypeName { get; }

    /// <summary>Whether an integer, bitfield or enum is signed.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "C's word for it.")]
    public bool Signed { get; internal init; }

    /// <summary>The number of elements of an array; 0 otherwise (and for a flexible array member).</summary>
    public int ElementCount { get; internal init; }

    /// <summary>
    /// For a bitfield, the lowest bit of the value within the little-endian integer of
    /// <see cref="Size"/> bytes at <see cref="Offset"/>; 0 otherwise.
    /// </summary>
    public int BitOffset { get; internal init; }

    /// <summary>For a bitfield, its width in bits; 0 otherwise.</summary>
    public int BitSize { get; internal init; }

    public bool IsBitfield => BitSize != 0;

    /// <summary>An enum's names and values, in declaration order; empty otherwise.</summary>
    public IReadOnlyList<(string Name, long Value)> EnumMembers { get; internal init; } = [];

    /// <summary>
    /// True for an array that is the struct's last member: a record may end inside it (a
    /// variable-length tail such as exec's arguments), so it is read up to the record's end.
    /// </summary>
    public bool IsTail { get; internal init; }

    /// <summary>Where the address, version, port and protocol of an endpoint field sit; null otherwise.</summary>
    public EndpointLayout? Endpoint { get; internal init; }

    /// <summary>
    /// Reads an Int, Bool or Enum field, bitfields included, from a record: sign-extended when
    /// <see cref="Signed"/>, else zero-extended (a u64 above <see cref="long.MaxValue"/> keeps its
    /// bits). False when the field is no integer or the record ends before it.
    /// </summary>
    public bool TryReadInteger(ReadOnlySpan<byte> record, out long value)
    {
        value = 0;
        if (Kind is not (FieldKind.Int or FieldKind.Bool or FieldKind.Enum) || Size is not (1 or 2 or 4 or 8)
            || Offset > record.Length - Size)
        {
            return false;
        }

        ReadOnlySpan<byte> bytes = record.Slice(Offset, Size);
        ulong raw = Size switch
        {
            1 => bytes[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        };
        int width = Size * 8;
        if (BitSize != 0)
        {
            raw >>= BitOffset;
            width = BitSize;
        }

        if (width < 64)
        {
            raw &= (1UL << width) - 1;
            if (Signed && (raw >> (width - 1)) != 0)
            {
                raw |= ulong.MaxValue << width;
            }
        }

        value = unchecked((long)raw);
        return true;
    }

    public override string ToString() => $"{Path} {Kind} {TypeName} @{Offset}+{Size}";
}

/// <summary>An event struct, flattened into the fields a decoder reads.</summary>
/// <param name="StructName">The struct's C name.</param>
/// <param name="Size">sizeof the struct.</param>
/// <param name="Fields">Its fields in member order, nested structs flattened into dotted paths.</param>
public sealed record EventSchema(string StructName, int Size, IReadOnlyList<FieldSchema> Fields)
{
    /// <summary>The field at <paramref name="path"/>, or null.</summary>
    public FieldSchema? Find(string path) => Fields.FirstOrDefault(f => f.Path == path);

    /// <summary>The variable-length tail, if the struct ends with an array.</summary>
    public FieldSchema? Tail => Fields.FirstOrDefault(f => f.IsTail);

    /// <summary>The shortest record of this struct: up to its last member when that is an array (a tail a record may cut), else the whole struct.</summary>
    public int MinimumRecordSize { get; init; } = Size;
}
