using System.Text;

namespace Gadget.Schema;

/// <summary>
/// The NUL-terminated names of a string table (BTF strings, ELF .strtab), each decoded once. Names
/// may start anywhere in the table, even inside another one; a hostile table could make every type
/// name a long suffix of one string, so names have a maximum length and all the decoded names
/// together a budget proportional to the table.
/// </summary>
internal sealed class StringTable
{
    /// <summary>Longer than any kernel symbol (KSYM_NAME_LEN, 512) and any BPF section name in practice.</summary>
    public const int MaxNameLength = 4096;

    private readonly ReadOnlyMemory<byte> _table;
    private readonly string _what;
    private readonly Dictionary<uint, string> _decoded = [];
    private long _budget;

    public StringTable(ReadOnlyMemory<byte> table, string what)
    {
        _table = table;
        _what = what;
        _budget = (4L * table.Length) + 65536;
    }

    /// <summary>
    /// The name at <paramref name="offset"/>. <paramref name="owner"/> and <paramref name="index"/>
    /// ("ELF symbol", 12) say whose it is in an error; the message is made only then.
    /// </summary>
    public string Get(uint offset, string owner, int index = -1)
    {
        if (_decoded.TryGetValue(offset, out string? name))
        {
            return name;
        }

        ReadOnlySpan<byte> table = _table.Span;
        if (offset >= table.Length)
        {
            throw new GadgetObjectException($"{Whose(owner, index)}: name offset {offset} lies outside the {table.Length}-byte {_what}.");
        }

        ReadOnlySpan<byte> rest = table[(int)offset..];
        int end = rest[..Math.Min(rest.Length, MaxNameLength + 1)].IndexOf((byte)0);
        if (end < 0)
        {
            throw new GadgetObjectException(rest.Length > MaxNameLength
                ? $"{Whose(owner, index)}: the name at offset {offset} of the {_what} is longer than {MaxNameLength} bytes."
                : $"{Whose(owner, index)}: the name at offset {offset} of the {_what} is not NUL-terminated.");
        }

        _budget -= end + 1;
        if (_budget < 0)
        {
            throw new GadgetObjectException($"The names of the {_what} overlap far more than a compiler makes them: too many long names start inside others.");
        }

        // Invalid UTF-8 becomes U+FFFD: a name is data to show, not to trust.
        name = Encoding.UTF8.GetString(rest[..end]);
        _decoded.Add(offset, name);
        return name;
    }

    private static string Whose(string owner, int index) => index >= 0 ? $"{owner} {index}" : owner;
}
