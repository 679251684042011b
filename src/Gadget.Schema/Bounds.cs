using System.Buffers.Binary;
using System.Text;

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

    /// <summary>A NUL-terminated string at <paramref name="offset"/> of a string table.</summary>
    public static string CString(ReadOnlySpan<byte> table, long offset, string what)
    {
        if (offset < 0 || offset >= table.Length)
        {
            throw new GadgetObjectException($"{what}: string offset {offset} lies outside its {table.Length}-byte string table.");
        }

        ReadOnlySpan<byte> rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        if (end < 0)
        {
            throw new GadgetObjectException($"{what}: the string at offset {offset} is not NUL-terminated.");
        }

        // Invalid UTF-8 becomes U+FFFD: a name is data to show, not to trust.
        return Encoding.UTF8.GetString(rest[..end]);
    }

    /// <summary>A 64-bit count or offset from the object, as an int, or an error naming it.</summary>
    public static int ToInt(ulong value, string what)
        => value <= int.MaxValue ? (int)value : throw new GadgetObjectException($"{what} ({value}) is too large.");
}
