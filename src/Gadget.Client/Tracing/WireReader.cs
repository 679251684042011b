using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Gadget.Tracing;

/// <summary>The protobuf wire types a field can have.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// Reads protobuf's wire format from one contiguous buffer: tags, varints, fixed-width numbers
/// and length-delimited fields, each checked against the end of the buffer.
/// </summary>
/// <remarks>
/// The trace stream's events are decoded with this rather than with generated parsers, so the hot
/// path is a few methods that are compiled fully optimized on first use. Generated parsers run at
/// the JIT's first tiers until tier-up, and a new pwsh spends its first seconds of a fast trace
/// there, too slow to keep up with the agent.
/// </remarks>
internal ref struct WireReader(ReadOnlySpan<byte> buffer)
{
    private readonly ReadOnlySpan<byte> _buffer = buffer;
    private int _position;

    /// <summary>Reads the next field's tag; false at the end of the buffer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadTag(out int field, out WireType type)
    {
        if (_position >= _buffer.Length)
        {
            field = 0;
            type = default;
            return false;
        }

        ulong tag = ReadVarint();
        field = (int)(tag >> 3);
        type = (WireType)(tag & 7);
        if (field <= 0 || tag > uint.MaxValue)
        {
            throw Malformed($"field number {tag >> 3} is not valid");
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadVarint()
    {
        // One byte covers field tags, small numbers and booleans: the common case.
        if (_position < _buffer.Length && _buffer[_position] < 0x80)
        {
            return _buffer[_position++];
        }

        return ReadLongVarint();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadUInt32() => (uint)ReadVarint();

    /// <summary>A uint32 field that carries a 16-bit value (a port, a DNS id).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadUInt16()
    {
        ulong value = ReadVarint();
        return value <= ushort.MaxValue ? (ushort)value : throw Malformed($"{value} does not fit in 16 bits");
    }

    /// <summary>An int32 field: negative values are sign-extended to ten bytes on the wire.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadInt32() => (int)ReadVarint();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ReadBool() => ReadVarint() != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(sizeof(ulong)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(sizeof(uint)));

    /// <summary>A length-delimited field's bytes (a string, bytes or an embedded message).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_buffer.Length - _position))
        {
            throw Malformed($"a field of {length} bytes runs past the end of its message");
        }

        return Take((int)length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>Skips a field this reader does not know (a newer agent's, or a known number with another type).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Skip(WireType type)
    {
        switch (type)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                Take(8);
                break;
            case WireType.LengthDelimited:
                ReadBytes();
                break;
            case WireType.Fixed32:
                Take(4);
                break;
            default:
                // Groups are proto2's; no version of this protocol sends them.
                throw Malformed($"wire type {(int)type} is not used by this protocol");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Take(int length)
    {
        if (length > _buffer.Length - _position)
        {
            throw Malformed("the message ends inside a field");
        }

        ReadOnlySpan<byte> bytes = _buffer.Slice(_position, length);
        _position += length;
        return bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong ReadLongVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _buffer.Length)
            {
                throw Malformed("the message ends inside a number");
            }

            byte next = _buffer[_position++];
            value |= (ulong)(next & 0x7f) << shift;
            if (next < 0x80)
            {
                return value;
            }
        }

        throw Malformed("a number is longer than ten bytes");
    }

    private static InvalidDataException Malformed(string what) => new($"The agent sent a malformed message: {what}.");
}
