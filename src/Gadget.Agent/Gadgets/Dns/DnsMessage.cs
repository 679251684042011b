using System.Buffers.Binary;

namespace Gadget.Agent.Gadgets.Dns;

/// <summary>What the agent reads from a DNS message: the header, the first question and the A/AAAA answers.</summary>
internal sealed class DnsMessage
{
    public ushort Id { get; init; }

    /// <summary>The QR bit: a response.</summary>
    public bool Response { get; init; }

    /// <summary>The header's second 16-bit word: QR, opcode, AA, TC, RD, RA, Z, RCODE.</summary>
    public ushort Flags { get; init; }

    /// <summary>The header's 4-bit RCODE.</summary>
    public int Rcode { get; init; }

    public ushort QuestionCount { get; init; }

    public ushort AnswerCount { get; init; }

    /// <summary>The first question's name, fully qualified with a trailing dot; empty when there is no question.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>The first question's type; 0 when there is no question.</summary>
    public ushort QType { get; init; }

    /// <summary>A (4 bytes) and AAAA (16 bytes) answer data, in answer order.</summary>
    public IReadOnlyList<byte[]> Addresses { get; init; } = [];

    /// <summary>True when the answers could not all be read (the message was cut or is damaged).</summary>
    public bool AnswersIncomplete { get; init; }
}

/// <summary>
/// Reads DNS messages (RFC 1035 4.1) from untrusted bytes. It never throws and never loops: every
/// read is bounds-checked, a name may follow at most <see cref="MaxPointerJumps"/> compression
/// pointers, each landing before where the previous one did, and a name is at most 255 bytes on the wire.
/// </summary>
internal static class DnsParser
{
    public const int HeaderSize = 12;
    public const int MaxNameLength = 255;
    public const int MaxPointerJumps = 127; // a name has at most 127 labels

    private const ushort TypeA = 1;
    private const ushort TypeAaaa = 28;

    /// <summary>
    /// Parses <paramref name="data"/>. False (and null) when the header or the first question cannot
    /// be read; answers that cannot be read only set <see cref="DnsMessage.AnswersIncomplete"/>.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out DnsMessage? message)
    {
        message = null;
        if (data.Length < HeaderSize)
        {
            return false;
        }

        ushort id = BinaryPrimitives.ReadUInt16BigEndian(data);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        ushort qdCount = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        ushort anCount = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        int offset = HeaderSize;
        string name = string.Empty;
        ushort qType = 0;

        if (qdCount > 0)
        {
            if (!TryReadName(data, ref offset, out name) || !TryReadUInt16(data, ref offset, out qType) || !TrySkip(data, ref offset, 2))
            {
                return false;
            }
        }

        List<byte[]>? addresses = null;
        bool incomplete = false;
        for (int i = 1; i < qdCount && !incomplete; i++)
        {
            incomplete = !TrySkipName(data, ref offset) || !TrySkip(data, ref offset, 4);
        }

        for (int i = 0; i < anCount && !incomplete; i++)
        {
            if (!TrySkipName(data, ref offset)
                || !TryReadUInt16(data, ref offset, out ushort type)
                || !TrySkip(data, ref offset, 6) // class, TTL
                || !TryReadUInt16(data, ref offset, out ushort rdLength)
                || data.Length - offset < rdLength)
            {
                incomplete = true;
                break;
            }

            if ((type == TypeA && rdLength == 4) || (type == TypeAaaa && rdLength == 16))
            {
                (addresses ??= []).Add(data.Slice(offset, rdLength).ToArray());
            }

            offset += rdLength;
        }

        message = new DnsMessage
        {
            Id = id,
            Response = (flags & 0x8000) != 0,
            Flags = flags,
            Rcode = flags & 0xF,
            QuestionCount = qdCount,
            AnswerCount = anCount,
            Name = name,
            QType = qType,
            Addresses = addresses ?? (IReadOnlyList<byte[]>)[],
            AnswersIncomplete = incomplete,
        };
        return true;
    }

    /// <summary>
    /// Reads a possibly compressed name at <paramref name="offset"/> in presentation format
    /// (labels joined by dots, a trailing dot; '.', '\' and bytes outside printable ASCII escaped
    /// as in a zone file). Advances <paramref name="offset"/> past the name's bytes at that place.
    /// </summary>
    public static bool TryReadName(ReadOnlySpan<byte> data, ref int offset, out string name)
    {
        // Worst case: 255 wire bytes, every one escaped as \DDD.
        Span<char> text = stackalloc char[(MaxNameLength * 4) + 1];
        int length = 0;
        if (!Walk(data, ref offset, text, ref length))
        {
            name = string.Empty;
            return false;
        }

        if (length == 0)
        {
            text[length++] = '.';
        }

        name = new string(text[..length]);
        return true;
    }

    private static bool TrySkipName(ReadOnlySpan<byte> data, ref int offset)
    {
        int unused = 0;
        return Walk(data, ref offset, [], ref unused);
    }

    /// <summary>Follows labels and pointers; writes text only when <paramref name="text"/> is not empty.</summary>
    private static bool Walk(ReadOnlySpan<byte> data, ref int offset, Span<char> text, ref int length)
    {
        int position = offset;
        int limit = offset; // where the part being read starts; a pointer must go below it
        int wireLength = 0;
        int jumps = 0;
        bool jumped = false;
        while (true)
        {
            if ((uint)position >= (uint)data.Length)
            {
                return false;
            }

            byte b = data[position];
            if (b == 0)
            {
                if (!jumped)
                {
                    offset = position + 1;
                }

                return ++wireLength <= MaxNameLength;
            }

            switch (b & 0xC0)
            {
                case 0xC0:
                    if (position + 1 >= data.Length || ++jumps > MaxPointerJumps)
                    {
                        return false;
                    }

                    int target = ((b & 0x3F) << 8) | data[position + 1];
                    if (target >= limit)
                    {
                        return false; // each pointer lands before the last: this alone rules out loops
                    }

                    limit = target;

                    if (!jumped)
                    {
                        offset = position + 2;
                        jumped = true;
                    }

                    position = target;
                    continue;
                case 0x00:
                    int labelLength = b;
                    wireLength += labelLength + 1;
                    if (wireLength >= MaxNameLength || position + 1 + labelLength > data.Length)
                    {
                        return false;
                    }

                    if (!text.IsEmpty)
                    {
                        AppendLabel(data.Slice(position + 1, labelLength), text, ref length);
                    }

                    position += 1 + labelLength;
                    continue;
                default:
                    return false; // 0x40 and 0x80: extended label types, obsolete and unused
            }
        }
    }

    private static void AppendLabel(ReadOnlySpan<byte> label, Span<char> text, ref int length)
    {
        foreach (byte c in label)
        {
            if (c is (byte)'.' or (byte)'\\')
            {
                text[length++] = '\\';
                text[length++] = (char)c;
            }
            else if (c is > 0x20 and < 0x7F)
            {
                text[length++] = (char)c;
            }
            else
            {
                text[length++] = '\\';
                text[length++] = (char)('0' + (c / 100));
                text[length++] = (char)('0' + (c / 10 % 10));
                text[length++] = (char)('0' + (c % 10));
            }
        }

        text[length++] = '.';
    }

    private static bool TryReadUInt16(ReadOnlySpan<byte> data, ref int offset, out ushort value)
    {
        if (data.Length - offset < 2)
        {
            value = 0;
            return false;
        }

        value = BinaryPrimitives.ReadUInt16BigEndian(data[offset..]);
        offset += 2;
        return true;
    }

    private static bool TrySkip(ReadOnlySpan<byte> data, ref int offset, int count)
    {
        if (data.Length - offset < count)
        {
            return false;
        }

        offset += count;
        return true;
    }
}
