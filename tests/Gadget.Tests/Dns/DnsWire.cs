using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Gadget.Tests.Dns;

/// <summary>Builds DNS messages for tests: queries, and responses whose answers point back at the question (compression).</summary>
internal static class DnsWire
{
    public const ushort TypeA = 1;
    public const ushort TypeAaaa = 28;
    public const ushort TypeCname = 5;

    public static byte[] Query(ushort id, string name, ushort type)
    {
        var message = new List<byte>();
        Header(message, id, flags: 0x0100, qd: 1, an: 0);
        Name(message, name);
        UInt16(message, type);
        UInt16(message, 1);
        return [.. message];
    }

    /// <summary>A response echoing the question; each answer's name is a pointer to the question's name (offset 12).</summary>
    public static byte[] Response(ushort id, string name, ushort type, int rcode, params IPAddress[] answers)
    {
        var message = new List<byte>();
        Header(message, id, flags: (ushort)(0x8180 | (rcode & 0xF)), qd: 1, an: (ushort)answers.Length);
        Name(message, name);
        UInt16(message, type);
        UInt16(message, 1);
        foreach (IPAddress address in answers)
        {
            message.Add(0xC0);
            message.Add(12);
            byte[] data = address.GetAddressBytes();
            UInt16(message, data.Length == 4 ? TypeA : TypeAaaa);
            UInt16(message, 1);
            UInt16(message, 0);
            UInt16(message, 60);
            UInt16(message, (ushort)data.Length);
            message.AddRange(data);
        }

        return [.. message];
    }

    /// <summary>Reads the id and the first question's name and type of a query (for the test responder).</summary>
    public static (ushort Id, string Name, ushort Type) ReadQuestion(ReadOnlySpan<byte> query)
    {
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(query);
        var name = new StringBuilder();
        int offset = 12;
        while (query[offset] != 0)
        {
            int length = query[offset];
            name.Append(Encoding.ASCII.GetString(query.Slice(offset + 1, length))).Append('.');
            offset += length + 1;
        }

        return (id, name.ToString(), BinaryPrimitives.ReadUInt16BigEndian(query[(offset + 1)..]));
    }

    public static void Header(List<byte> message, ushort id, ushort flags, ushort qd, ushort an)
    {
        UInt16(message, id);
        UInt16(message, flags);
        UInt16(message, qd);
        UInt16(message, an);
        UInt16(message, 0);
        UInt16(message, 0);
    }

    public static void Name(List<byte> message, string name)
    {
        foreach (string label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            message.Add((byte)label.Length);
            message.AddRange(Encoding.ASCII.GetBytes(label));
        }

        message.Add(0);
    }

    public static void UInt16(List<byte> message, ushort value)
    {
        message.Add((byte)(value >> 8));
        message.Add((byte)value);
    }
}
