using System.Buffers.Binary;

namespace Gadget.Schema;

/// <summary>
/// Bounds-checked little-endian reads. Every offset in an object comes from the object, so every
/// read goes through here and a bad offset becomes a <see cref="GadgetObjectException"/>.
/// </summary>
internal static class Bounds
{
    public static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, long offset, long length, string what)
    {
        if (offset < 0 || length < 0 || offset > data.Length || length > data.Length - offset)
        {
            throw new GadgetObjectException(
                $"{what} (offset {offset}, length {length}) lies outside the {data.Length} bytes that hold it.");
        }

        return data.Slice((int)offset, (int)length);
    }

    public static ReadOnlyMemory<byte> Slice(ReadOnlyMemory<byte> data, long offset, long length, string what)
    {
        _ = Slice(data.Span, offset, length, what);
        return data.Slice((int)offset, (int)length);
    }

    public static ushort U16(ReadOnlySpan<byte> data, long offset, string what)
        => BinaryPrimitives.ReadUInt16LittleEndian(Slice(data, offset, 2, what));

    public static uint U32(ReadOnlySpan<byte> data, long offset, string what)
        => BinaryPrimitives.ReadUInt32LittleEndian(Slice(data, offset, 4, what));

    public static ulong U64(ReadOnlySpan<byte> data, long offset, string what)
        => BinaryPrimitives.ReadUInt64LittleEndian(Slice(data, offset, 8, what));

    /// <summary>A 64-bit count or offset from the object, as an int, or an error naming it.</summary>
    public static int ToInt(ulong value, string what)
        => value <= int.MaxValue ? (int)value : throw new GadgetObjectException($"{what} ({value}) is too large.");
}
